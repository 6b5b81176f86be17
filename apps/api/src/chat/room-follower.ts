import { rooms } from '@bgs/shared';
import type { Logger, RedisClient, RoomEvent, RoomWire } from '@bgs/server';

type Listener = (e: RoomEvent) => void;

/**
 * Follows a thread's room from this process, for HTTP readers of a chat's stream: the
 * same packets the socket.io adapter delivers to sockets, read from the room's Redis
 * channel (sharded pub/sub on a cluster). One subscriber connection per API process; a
 * channel is subscribed while at least one reader follows it.
 */
export class RoomFollower {
  private readonly channels = new Map<string, { listeners: Set<Listener>; subscribed: Promise<unknown> }>();

  private readonly sharded: boolean;

  constructor(
    private readonly subscriber: RedisClient,
    private readonly wire: RoomWire,
    private readonly logger: Logger,
  ) {
    this.sharded = wire.kind === 'sharded';
    subscriber.on(this.sharded ? 'smessageBuffer' : 'messageBuffer', (channel: Buffer, message: Buffer) => {
      const followed = this.channels.get(channel.toString());
      if (!followed) return;
      const event = wire.decode(message);
      if (event) for (const listener of followed.listeners) listener(event);
    });
  }

  /** Calls `listener` with every event of the thread's room from now on; resolves once subscribed. Returns the unfollow. */
  async follow(threadId: string, listener: Listener): Promise<() => Promise<void>> {
    const channel = this.wire.roomChannel(rooms.thread(threadId));
    let followed = this.channels.get(channel);
    if (!followed) {
      const subscribed = this.sharded ? this.subscriber.ssubscribe(channel) : this.subscriber.subscribe(channel);
      this.channels.set(channel, (followed = { listeners: new Set(), subscribed }));
    }
    const { listeners } = followed;
    listeners.add(listener);
    await followed.subscribed;
    return async () => {
      if (!listeners.delete(listener) || listeners.size > 0) return;
      this.channels.delete(channel);
      await (this.sharded ? this.subscriber.sunsubscribe(channel) : this.subscriber.unsubscribe(channel)).catch((err: Error) => this.logger.warn({ threadId, err: err.message }, 'room unsubscribe failed'));
    };
  }

  /** Readers following right now (metrics, leak tests). */
  get following(): number {
    let n = 0;
    for (const { listeners } of this.channels.values()) n += listeners.size;
    return n;
  }
}
