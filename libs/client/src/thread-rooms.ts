import type { StreamSnapshot, ThreadOpenAck } from '@bgs/shared/browser';

/** The two socket calls the rooms need (`thread.open` with its ack, `thread.close`). */
export interface RoomChannel {
  readonly connected: boolean;
  open(threadId: string): Promise<ThreadOpenAck>;
  close(threadId: string): Promise<unknown>;
}

/** What the rooms report back to the transport. */
export interface ThreadRoomsEvents {
  /** The `thread.open` ack's snapshot (apply it: frames may have arrived before it). */
  snapshot(threadId: string, streams: StreamSnapshot[]): void;
  /** `thread.open` was refused (`not_found` for a deleted thread) or could not complete. */
  refused(threadId: string, error: { code: string; message?: string }): void;
}

/**
 * Keeps the socket's thread rooms equal to the threads the user is viewing. One call
 * per thread is in flight at a time and the next one is decided when it returns, so
 * quick switches coalesce and a `thread.close` can never overtake its `thread.open`
 * on the server (which would leave the socket in a room nobody views). After a
 * reconnect the server has forgotten every room: all viewed threads are joined again.
 */
export class ThreadRooms {
  private readonly wanted = new Set<string>();
  private readonly joined = new Set<string>();
  private readonly busy = new Set<string>();
  /** Threads whose open was refused on this connection: not retried until viewed again or reconnected. */
  private readonly refusedHere = new Set<string>();
  private readonly waiters = new Map<string, Array<() => void>>();
  private connection = 0;
  private settledOnce = false;

  constructor(
    private readonly channel: RoomChannel,
    private readonly events: ThreadRoomsEvents,
  ) {}

  /** Starts viewing `threadId`; resolves once its room is joined, refused, or cannot be joined now. */
  want(threadId: string): Promise<void> {
    this.wanted.add(threadId);
    this.refusedHere.delete(threadId);
    const settled = new Promise<void>((resolve) => this.waiters.set(threadId, [...(this.waiters.get(threadId) ?? []), resolve]));
    this.sync(threadId);
    return settled;
  }

  /** Stops viewing `threadId`; its room is left once any call in flight returns. */
  drop(threadId: string): void {
    this.wanted.delete(threadId);
    this.refusedHere.delete(threadId);
    this.settle(threadId);
    this.sync(threadId);
  }

  /** The socket (re)connected: join every viewed thread again. */
  connected(): void {
    this.settledOnce = true;
    this.reset();
    for (const threadId of this.wanted) this.sync(threadId);
  }

  /** The socket is down (or never came up): nothing is joined; nobody waits for it. */
  disconnected(): void {
    this.settledOnce = true;
    this.reset();
    for (const threadId of [...this.waiters.keys()]) this.settle(threadId);
  }

  get viewed(): ReadonlySet<string> {
    return this.wanted;
  }

  get joinedCount(): number {
    return this.joined.size;
  }

  private reset(): void {
    this.connection++;
    this.joined.clear();
    this.busy.clear();
    this.refusedHere.clear();
  }

  private sync(threadId: string): void {
    if (!this.channel.connected) {
      // Before the first connect settles, wait for it; after, "cannot be joined now" is an answer.
      if (this.settledOnce) this.settle(threadId);
      return;
    }
    if (this.busy.has(threadId)) return;
    const want = this.wanted.has(threadId) && !this.refusedHere.has(threadId);
    const have = this.joined.has(threadId);
    if (want === have) return this.settle(threadId);
    this.busy.add(threadId);
    const connection = this.connection;
    const done = (apply: () => void) => {
      if (connection !== this.connection) return; // a reconnect started over
      this.busy.delete(threadId);
      apply();
      this.sync(threadId);
    };
    if (want) {
      this.channel.open(threadId).then(
        (ack) => {
          // A snapshot is a valid view of the thread even if the socket dropped meanwhile.
          if (ack.ok) this.events.snapshot(threadId, ack.streams);
          done(() => {
            if (ack.ok) this.joined.add(threadId);
            else this.refuse(threadId, ack.error);
          });
        },
        // No answer in time: tell whoever waits, and ask again (the server may have been slow).
        () => done(() => this.settle(threadId)),
      );
    } else {
      // Left whatever the answer: a failed close leaves nothing that the disconnect will not clear.
      this.channel.close(threadId).then(
        () => done(() => this.joined.delete(threadId)),
        () => done(() => this.joined.delete(threadId)),
      );
    }
  }

  private refuse(threadId: string, error: { code: string; message?: string }): void {
    this.refusedHere.add(threadId);
    this.settle(threadId);
    if (this.wanted.has(threadId)) this.events.refused(threadId, error);
  }

  private settle(threadId: string): void {
    const waiting = this.waiters.get(threadId);
    this.waiters.delete(threadId);
    for (const resolve of waiting ?? []) resolve();
  }
}
