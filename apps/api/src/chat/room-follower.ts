import { rooms } from '@bgs/shared';
import { decodeRoomEvent, type Logger, type Redis, type RoomEvent } from '@bgs/server';

type Listener = (e: RoomEvent) => void;

/**
 * Follows a thread's room from this process, for HTTP readers of a chat's stream: the
 * same packets the socket.io adapter delivers to sockets, read from the room's Redis
 * channel. One subscriber connection per API process; a channel is subscribed while at
 * least one reader follows it.
 */
export class RoomFollower {
  private readonly channels = new Map<string, { listeners: Set<Listener>; subscribed: Promise<unknown> }>();

  constructor(
    private readonly subscriber: Redis,
    private readonly socketIoKey: string,
    private readonly logger: Logger,
  ) {
    subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      const followed = this.channels.get(channel.toString());
      if (!followed) return;
      const event = decodeRoomEvent(message);
      if (event) for (const listener of followed.listeners) listener(event);
    });
  }

  /** Calls `listener` with every event of the thread's room from now on; resolves once subscribed. Returns the unfollow. */
  async follow(threadId: string, listener: Listener): Promise<() => Promise<void>> {
    const channel = `${this.socketIoKey}#/#${rooms.thread(threadId)}#`;
    let followed = this.channels.get(channel);
    if (!followed) this.channels.set(channel, (followed = { listeners: new Set(), subscribed: this.subscriber.subscribe(channel) }));
    const { listeners } = followed;
    listeners.add(listener);
    await followed.subscribed;
    return async () => {
      if (!listeners.delete(listener) || listeners.size > 0) return;
      this.channels.delete(channel);
      await this.subscriber.unsubscribe(channel).catch((err: Error) => this.logger.warn({ threadId, err: err.message }, 'room unsubscribe failed'));
    };
  }

  /** Readers following right now (metrics, leak tests). */
  get following(): number {
    let n = 0;
    for (const { listeners } of this.channels.values()) n += listeners.size;
    return n;
  }
}
