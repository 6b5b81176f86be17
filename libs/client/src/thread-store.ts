import type { FrameScheduler } from './frame-scheduler';
import { emptyThread, isStreaming, reduceThread, visibleMessages, type ChatMessage, type ThreadEvent, type ThreadState } from './thread-state';

/** What a thread view shows; the same object until something in it changes. */
export interface ThreadViewState {
  threadId: string;
  /** Oldest first, live content applied. */
  messages: ChatMessage[];
  /** A message is being sent or an answer is streaming. */
  streaming: boolean;
  /** The history has been read since the thread was last opened (false while cached state may be stale). */
  loaded: boolean;
  /** Why the thread cannot be shown (`not_found` once deleted), or null. */
  error: { code: string; message: string } | null;
}

/** Called with the view of a thread: once at subscribe, then at most once per frame. */
export type ThreadListener = (state: ThreadViewState) => void;

interface Entry {
  state: ThreadState;
  shown: { of: ThreadState; view: ThreadViewState } | null;
  listeners: Set<ThreadListener>;
}

/**
 * Every thread the client has seen, each a `ThreadState` changed only through
 * `reduceThread`. Threads stay cached when no view shows them, so a send whose answer
 * arrives after the user left still lands, and coming back shows it at once.
 * Listeners hear at most once per scheduled frame, however many events arrived.
 */
export class ThreadStore {
  private readonly entries = new Map<string, Entry>();
  private readonly dirty = new Set<string>();
  private cancelFlush: (() => void) | null = null;

  constructor(
    private readonly schedule: FrameScheduler,
    private readonly onListenerError: (err: unknown) => void,
  ) {}

  /** Starts holding `threadId` (idempotent). */
  ensure(threadId: string): void {
    if (!this.entries.has(threadId)) this.entries.set(threadId, { state: emptyThread(threadId), shown: null, listeners: new Set() });
  }

  has(threadId: string): boolean {
    return this.entries.has(threadId);
  }

  state(threadId: string): ThreadState | undefined {
    return this.entries.get(threadId)?.state;
  }

  /** Applies an event to a held thread; events for threads not held are dropped. */
  dispatch(threadId: string, event: ThreadEvent): void {
    const entry = this.entries.get(threadId);
    if (!entry) return;
    const next = reduceThread(entry.state, event);
    if (next === entry.state) return;
    entry.state = next;
    if (entry.listeners.size === 0) return;
    this.dirty.add(threadId);
    this.cancelFlush ??= this.schedule(() => this.flush());
  }

  /** The view of a thread, computed once per state. */
  view(threadId: string): ThreadViewState {
    this.ensure(threadId);
    const entry = this.entries.get(threadId) as Entry;
    if (entry.shown?.of !== entry.state) {
      const messages = visibleMessages(entry.state);
      const { loaded, error } = entry.state;
      entry.shown = { of: entry.state, view: { threadId, messages, streaming: isStreaming(messages), loaded, error } };
    }
    return entry.shown.view;
  }

  /** Calls `listener` now and after each frame in which the thread changed. */
  subscribe(threadId: string, listener: ThreadListener): () => void {
    this.ensure(threadId);
    const entry = this.entries.get(threadId) as Entry;
    entry.listeners.add(listener);
    this.call(listener, this.view(threadId));
    return () => void entry.listeners.delete(listener);
  }

  /** Drops a deleted thread (kept, with an error, while a view still shows it). */
  forget(threadId: string): void {
    const entry = this.entries.get(threadId);
    if (!entry) return;
    if (entry.listeners.size > 0) this.dispatch(threadId, { type: 'error', error: { code: 'not_found', message: 'thread not found' } });
    else this.entries.delete(threadId);
  }

  /** Applies the pending frame's updates now (tests, or a UI that wants them before paint). */
  flush(): void {
    this.cancelFlush = null;
    const threads = [...this.dirty];
    this.dirty.clear();
    for (const threadId of threads) {
      const entry = this.entries.get(threadId);
      if (!entry || entry.listeners.size === 0) continue;
      const view = this.view(threadId);
      for (const listener of [...entry.listeners]) this.call(listener, view);
    }
  }

  private call(listener: ThreadListener, view: ThreadViewState): void {
    try {
      listener(view);
    } catch (err) {
      this.onListenerError(err);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  /** View listeners across all threads. */
  get subscriptions(): number {
    let n = 0;
    for (const entry of this.entries.values()) n += entry.listeners.size;
    return n;
  }

  /** 1 while a frame's update is scheduled. */
  get scheduled(): number {
    return this.cancelFlush ? 1 : 0;
  }

  close(): void {
    this.cancelFlush?.();
    this.cancelFlush = null;
    this.dirty.clear();
    for (const entry of this.entries.values()) entry.listeners.clear();
  }
}
