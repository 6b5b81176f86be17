import { EVENTS, rooms } from '@bgs/shared';
import { sendPacket, type PacketPublisher, type RoomPacket, type RoomWire } from './socketio-packet';
import type { Announcement, StreamEnd, StreamEvents } from './stream-events';

/**
 * Stream events to the socket.io room of the stream's thread, published on Redis the way
 * the API instances' adapter reads them (`wire`), so every instance delivers them.
 */
export class SocketIoStreamEvents implements StreamEvents {
  constructor(
    private readonly publisher: PacketPublisher,
    private readonly wire: RoomWire,
  ) {}

  started(e: Parameters<StreamEvents['started']>[0]): Announcement {
    return this.announce(this.wire.roomEvent(rooms.thread(e.threadId), EVENTS.streamStarted, e));
  }

  reset(e: Parameters<StreamEvents['reset']>[0]): Announcement {
    return this.announce(this.wire.roomEvent(rooms.thread(e.threadId), EVENTS.streamReset, e));
  }

  delta(e: Parameters<StreamEvents['delta']>[0]): Announcement {
    return this.announce(this.wire.roomEvent(rooms.thread(e.threadId), EVENTS.streamDelta, e));
  }

  ended(end: StreamEnd): Announcement {
    const room = rooms.thread(end.threadId);
    const { streamId, threadId } = end;
    switch (end.status) {
      case 'completed':
        return this.announce(this.wire.roomEvent(room, EVENTS.streamCompleted, { streamId, threadId, message: end.message }));
      case 'failed':
        return this.announce(this.wire.roomEvent(room, EVENTS.streamFailed, { streamId, threadId, messageId: end.messageId, error: end.error }));
      case 'cancelled':
        return this.announce(this.wire.roomEvent(room, EVENTS.streamCancelled, { streamId, threadId, messageId: end.messageId }));
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
    await sendPacket(this.publisher, this.packet);
  }
}
