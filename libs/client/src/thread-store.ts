import type { FrameScheduler } from './frame-scheduler';
import { isStreaming, visibleMessages, type ChatMessage } from './thread-messages';
import { emptyThread, reduceThread, threadStatus, type ThreadEvent, type ThreadProblem, type ThreadState, type ThreadStatus } from './thread-state';

/** What a thread view shows; the same object until something in it changes. */
export interface ThreadViewState {
  threadId: string;
  /** Oldest first, live content applied. */
  messages: ChatMessage[];
  /** A message is being sent or an answer is streaming. */
  streaming: boolean;
  /** The history has been read since the thread was last opened (false while cached state may be stale). */
  loaded: boolean;
  /**
   * What to tell the user about the thread: `live`, `loading`, `retrying` (the server
   * could not be asked just now: see `problem`; asked again shortly, running answers
   * polled meanwhile), `offline` (no connection: running answers are polled),
   * `deleted` (here or in another tab) or `error` (see `error`).
   */
  status: ThreadStatus;
  /** Why the thread cannot be shown: a permanent refusal (`not_found`, `unauthorized`…), or null. */
  error: ThreadProblem | null;
  /** Deleted (here or in another tab): the view stays, nothing more arrives. */
  deleted: boolean;
  /** With `status: 'retrying'`: what failed (`unavailable`, `timeout`, `network`…). */
  problem: ThreadProblem | null;
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
      const { loaded, error, deleted } = entry.state;
      const status = threadStatus(entry.state);
      const problem = status === 'retrying' ? (entry.state.linkProblem ?? entry.state.historyProblem) : null;
      entry.shown = { of: entry.state, view: { threadId, messages, streaming: isStreaming(messages), loaded, status, error, deleted, problem } };
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

  /** A deleted thread: dropped, or kept as `deleted` while a view still shows it (`viewed`, or listened to). */
  deleted(threadId: string, viewed: boolean): void {
    const entry = this.entries.get(threadId);
    if (!entry) return;
    if (viewed || entry.listeners.size > 0) this.dispatch(threadId, { type: 'deleted' });
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
