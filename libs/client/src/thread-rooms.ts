import type { StreamSnapshot, ThreadOpenAck } from '@bgs/shared/browser';
import { isPermanentRefusal, KeyedRetries, type Problem, type RetryDelays } from './backoff';
import type { ThreadLink } from './thread-state';

/** The two socket calls the rooms need (`thread.open` with its ack, `thread.close`). */
export interface RoomChannel {
  readonly connected: boolean;
  /** Rejects when no ack came in time (or the socket dropped). */
  open(threadId: string): Promise<ThreadOpenAck>;
  close(threadId: string): Promise<unknown>;
}

/** What the rooms report back to the transport. */
export interface ThreadRoomsEvents {
  /** The `thread.open` ack's snapshot (apply it: frames may have arrived before it). */
  snapshot(threadId: string, streams: StreamSnapshot[]): void;
  /** `thread.open` was refused for good (`not_found`, `unauthorized`…): not asked again until viewed again. */
  refused(threadId: string, error: Problem): void;
  /** `link(threadId)` or `problem(threadId)` may have changed. */
  changed(threadId: string): void;
}

/**
 * Keeps the socket's thread rooms equal to the threads the user is viewing. One call
 * per thread is in flight at a time and the next one is decided when it returns, so
 * quick switches coalesce.
 *
 * - A `thread.open` refused for a reason worth retrying (`unavailable`, `internal`) or
 *   not answered in time is asked again after a backoff, as long as the thread is viewed.
 * - An open not answered in time may still be running on the server, which handles a
 *   socket's thread events in order: leaving the thread then sends `thread.close`,
 *   which undoes it there (otherwise the socket would stay in a room nobody views, and
 *   the thread would count as open, silencing its notifications).
 * - A permanent refusal (`not_found`…) is reported and not retried until viewed again.
 * - After a reconnect the server has forgotten every room: all viewed threads are joined again.
 */
export class ThreadRooms {
  private readonly wanted = new Set<string>();
  private readonly joined = new Set<string>();
  /** Opens whose answer never came: the server may have joined them (or may still). */
  private readonly uncertain = new Set<string>();
  private readonly busy = new Set<string>();
  /** Threads whose open was refused for good on this connection: not retried until viewed again or reconnected. */
  private readonly refusedHere = new Map<string, Problem>();
  /** Deleted threads: left, and not joined again until viewed anew. */
  private readonly gone = new Set<string>();
  /** Opens to ask again, with what the last one failed with. */
  private readonly retries: KeyedRetries<Problem>;
  private readonly waiters = new Map<string, Array<() => void>>();
  private connection = 0;
  private settledOnce = false;
  private closed = false;

  constructor(
    private readonly channel: RoomChannel,
    private readonly events: ThreadRoomsEvents,
    delays: RetryDelays,
  ) {
    this.retries = new KeyedRetries<Problem>(delays);
  }

  /** Starts viewing `threadId`; resolves once its room is joined, refused, or cannot be joined now. */
  want(threadId: string): Promise<void> {
    this.wanted.add(threadId);
    this.refusedHere.delete(threadId);
    this.gone.delete(threadId);
    const settled = new Promise<void>((resolve) => this.waiters.set(threadId, [...(this.waiters.get(threadId) ?? []), resolve]));
    this.sync(threadId);
    this.events.changed(threadId);
    return settled;
  }

  /** Stops viewing `threadId`; its room is left once any call in flight returns. */
  drop(threadId: string): void {
    this.wanted.delete(threadId);
    this.refusedHere.delete(threadId);
    this.retries.cancel(threadId);
    this.settle(threadId);
    this.sync(threadId);
    this.events.changed(threadId);
  }

  /** The thread was deleted: leave its room (if joined, or possibly joined) and ask nothing more about it. */
  forget(threadId: string): void {
    this.gone.add(threadId);
    this.retries.cancel(threadId);
    this.settle(threadId);
    this.sync(threadId);
    this.events.changed(threadId);
  }

  /** The socket (re)connected: join every viewed thread again. */
  connected(): void {
    this.settledOnce = true;
    this.reset();
    for (const threadId of this.wanted) {
      this.sync(threadId);
      this.events.changed(threadId);
    }
  }

  /** The socket is down (or never came up): nothing is joined; nobody waits for it. */
  disconnected(): void {
    this.settledOnce = true;
    this.reset();
    for (const threadId of [...this.waiters.keys()]) this.settle(threadId);
    for (const threadId of this.wanted) this.events.changed(threadId);
  }

  /** How a viewed thread gets its updates from the rooms' side. */
  link(threadId: string): ThreadLink {
    if (!this.wanted.has(threadId) || this.gone.has(threadId) || this.refusedHere.has(threadId)) return 'idle';
    if (this.joined.has(threadId)) return 'live';
    if (!this.channel.connected) return this.settledOnce ? 'offline' : 'joining';
    return this.retries.retrying(threadId) ? 'retrying' : 'joining';
  }

  /** What the retried open failed with, or null. */
  problem(threadId: string): Problem | null {
    return this.retries.detail(threadId) ?? null;
  }

  get viewed(): ReadonlySet<string> {
    return this.wanted;
  }

  get joinedCount(): number {
    return this.joined.size;
  }

  /** Retry timers pending. */
  get timers(): number {
    return this.retries.pending;
  }

  close(): void {
    this.closed = true;
    this.retries.close();
    for (const threadId of [...this.waiters.keys()]) this.settle(threadId);
  }

  private reset(): void {
    this.connection++;
    this.joined.clear();
    this.uncertain.clear();
    this.busy.clear();
    this.refusedHere.clear();
    this.retries.clear();
  }

  private sync(threadId: string): void {
    if (this.closed) return;
    if (!this.channel.connected) {
      // Before the first connect settles, wait for it; after, "cannot be joined now" is an answer.
      if (this.settledOnce) this.settle(threadId);
      return;
    }
    if (this.busy.has(threadId)) return;
    const want = this.wanted.has(threadId) && !this.refusedHere.has(threadId) && !this.gone.has(threadId);
    if (want) {
      if (this.joined.has(threadId)) return this.settle(threadId);
      if (this.retries.waiting(threadId)) return; // asked again when the timer fires
      return this.open(threadId);
    }
    this.retries.cancel(threadId);
    if (this.joined.has(threadId) || this.uncertain.has(threadId)) return this.leave(threadId);
    this.settle(threadId);
  }

  private open(threadId: string): void {
    this.busy.add(threadId);
    const connection = this.connection;
    this.channel.open(threadId).then(
      (ack) => {
        // A snapshot is a valid view of the thread even if the socket dropped meanwhile.
        if (ack.ok) this.events.snapshot(threadId, ack.streams);
        this.done(connection, threadId, () => {
          this.uncertain.delete(threadId);
          if (ack.ok) {
            this.joined.add(threadId);
            this.retries.cancel(threadId);
            return;
          }
          const problem = { code: ack.error.code, message: ack.error.message ?? ack.error.code };
          if (isPermanentRefusal(problem.code)) this.refuse(threadId, problem);
          else this.retryLater(threadId, problem);
        });
      },
      (err: Error) =>
        this.done(connection, threadId, () => {
          // No answer in time: the open may still run on the server, so leaving must close it.
          this.uncertain.add(threadId);
          this.retryLater(threadId, { code: 'timeout', message: `thread.open was not answered: ${err?.message ?? 'no ack'}` });
        }),
    );
  }

  private leave(threadId: string): void {
    this.busy.add(threadId);
    const connection = this.connection;
    // Left whatever the answer: the server runs it after the open it undoes, and a disconnect clears the rest.
    const left = () =>
      this.done(connection, threadId, () => {
        this.joined.delete(threadId);
        this.uncertain.delete(threadId);
      });
    this.channel.close(threadId).then(left, left);
  }

  /** Applies a call's outcome, unless a reconnect started over meanwhile, then decides the next call. */
  private done(connection: number, threadId: string, apply: () => void): void {
    if (connection !== this.connection || this.closed) return;
    this.busy.delete(threadId);
    apply();
    this.events.changed(threadId);
    this.sync(threadId);
  }

  private retryLater(threadId: string, problem: Problem): void {
    if (!this.wanted.has(threadId) || this.gone.has(threadId)) return; // left meanwhile: `sync` closes what may be open
    this.retries.schedule(threadId, () => this.sync(threadId), problem);
    // Whoever waits for the thread hears "cannot be joined now"; the view says `retrying`.
    this.settle(threadId);
  }

  private refuse(threadId: string, error: Problem): void {
    this.refusedHere.set(threadId, error);
    this.retries.cancel(threadId);
    this.settle(threadId);
    if (this.wanted.has(threadId)) this.events.refused(threadId, error);
  }

  private settle(threadId: string): void {
    const waiting = this.waiters.get(threadId);
    this.waiters.delete(threadId);
    for (const resolve of waiting ?? []) resolve();
  }
}
