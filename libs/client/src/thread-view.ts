import type { ThreadListener, ThreadStore, ThreadViewState } from './thread-store';

/**
 * One open pane on a thread. While any view of a thread is open the client keeps it
 * live (socket room, or the fallback poll while the socket is down); `close()` releases
 * the view's listeners and, with the last view, the thread's live updates. Closing
 * never stops a generation.
 */
export interface ThreadView {
  readonly threadId: string;
  /** Resolves once the history is read and live updates are attached (or cannot be now). Never rejects: see `error`. */
  readonly ready: Promise<void>;
  /** The state right now. */
  get(): ThreadViewState;
  /** Calls `listener` now and at most once per animation frame after; returns the unsubscribe. */
  subscribe(listener: ThreadListener): () => void;
  /** Releases this view (idempotent). */
  close(): void;
}

/** A view over `store`'s thread; `release` runs once, at `close()`. */
export function createThreadView(store: ThreadStore, threadId: string, ready: Promise<void>, release: () => void): ThreadView {
  const unsubscribes = new Set<() => void>();
  let closed = false;
  return {
    threadId,
    ready,
    get: () => store.view(threadId),
    subscribe(listener) {
      if (closed) return () => undefined;
      const off = store.subscribe(threadId, listener);
      const unsubscribe = () => {
        if (unsubscribes.delete(unsubscribe)) off();
      };
      unsubscribes.add(unsubscribe);
      return unsubscribe;
    },
    close() {
      if (closed) return;
      closed = true;
      for (const unsubscribe of [...unsubscribes]) unsubscribe();
      release();
    },
  };
}
