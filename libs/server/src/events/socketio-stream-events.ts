import { EVENTS, rooms } from '@bgs/shared';
import { encodeRoomEvent, type RoomPacket } from './socketio-packet';
import type { Announcement, StreamEnd, StreamEvents } from './stream-events';

/** What it takes to publish: a Redis connection's `publish`. */
export interface PacketPublisher {
  publish(channel: string, message: Buffer): Promise<unknown>;
}

/**
 * Stream events to the socket.io room of the stream's thread, published on Redis as
 * `@socket.io/redis-emitter` would, so every API instance's adapter delivers them.
 */
export class SocketIoStreamEvents implements StreamEvents {
  constructor(
    private readonly publisher: PacketPublisher,
    private readonly socketIoKey: string,
  ) {}

  started(e: Parameters<StreamEvents['started']>[0]): Announcement {
    return this.announce(encodeRoomEvent(this.socketIoKey, rooms.thread(e.threadId), EVENTS.streamStarted, e));
  }

  reset(e: Parameters<StreamEvents['reset']>[0]): Announcement {
    return this.announce(encodeRoomEvent(this.socketIoKey, rooms.thread(e.threadId), EVENTS.streamReset, e));
  }

  delta(e: Parameters<StreamEvents['delta']>[0]): Announcement {
    return this.announce(encodeRoomEvent(this.socketIoKey, rooms.thread(e.threadId), EVENTS.streamDelta, e));
  }

  ended(end: StreamEnd): Announcement {
    const room = rooms.thread(end.threadId);
    const { streamId, threadId } = end;
    switch (end.status) {
      case 'completed':
        return this.announce(encodeRoomEvent(this.socketIoKey, room, EVENTS.streamCompleted, { streamId, threadId, message: end.message }));
      case 'failed':
        return this.announce(encodeRoomEvent(this.socketIoKey, room, EVENTS.streamFailed, { streamId, threadId, messageId: end.messageId, error: end.error }));
      case 'cancelled':
        return this.announce(encodeRoomEvent(this.socketIoKey, room, EVENTS.streamCancelled, { streamId, threadId, messageId: end.messageId }));
    }
  }

  private announce(packet: RoomPacket): Announcement {
    return new PacketAnnouncement(this.publisher, packet);
  }
}

/** One object per event, no closure: a frame's announcement is on the hot path. */
class PacketAnnouncement implements Announcement {
  constructor(
    private readonly publisher: PacketPublisher,
    readonly packet: RoomPacket,
  ) {}

  async send(): Promise<void> {
    await this.publisher.publish(this.packet.channel, this.packet.message);
  }
}
