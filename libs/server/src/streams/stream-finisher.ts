import { EVENTS, isTerminalStreamStatus, rooms } from '@bgs/shared';
import type { MessageRow, StreamRow } from '../db/database';
import type { RedisKeys } from '../redis/keys';
import type { LiveStreamStore } from '../live/live-stream-store';
import { encodeRoomEvent, type RoomPacket } from '../live/socketio-packet';
import { GENERATION_FAILED } from '../providers/provider';
import { toMessage } from './dto';
import type { StreamEnding, StreamStore } from './stream-store';

/**
 * Ends a stream everywhere, in the order that survives a crash between the steps:
 * Postgres first (the truth), then the live state in Redis and the final socket event.
 * Calling it again for an ended stream re-syncs Redis from Postgres and emits nothing new.
 */
export class StreamFinisher {
  constructor(
    private readonly store: StreamStore,
    private readonly live: LiveStreamStore | null,
    private readonly keys: RedisKeys | null,
  ) {}

  async finish(streamId: string, ending: StreamEnding): Promise<{ stream: StreamRow; message: MessageRow } | null> {
    const ended = await this.store.finish(streamId, ending);
    if (ended) {
      await this.publishEnd(ended.stream, ended.message);
      return ended;
    }
    await this.resync(streamId);
    return null;
  }

  /**
   * Its thread was deleted, rows and all: mark the live state ended and tell the
   * thread's sockets, since the worker will find nothing left to end.
   */
  async endDeleted(stream: StreamRow): Promise<void> {
    if (!this.live || !this.keys) return;
    const packet = encodeRoomEvent(this.keys.socketIoKey, rooms.thread(stream.threadId), EVENTS.streamCancelled, {
      streamId: stream.id,
      threadId: stream.threadId,
      messageId: stream.messageId,
    });
    await this.live.finish(stream.id, null, 'cancelled', null, packet);
  }

  /** Makes the live state agree with a stream Postgres already ended (no-op otherwise). */
  async resync(streamId: string): Promise<void> {
    if (!this.live) return;
    const stream = await this.store.get(streamId);
    if (!stream || !isTerminalStreamStatus(stream.status)) return;
    const message = await this.store.message(stream.messageId);
    if (message) await this.publishEnd(stream, message);
  }

  private async publishEnd(stream: StreamRow, message: MessageRow): Promise<void> {
    if (!this.live || !this.keys) return;
    await this.live.finish(stream.id, null, stream.status, stream.seq, this.endPacket(stream, message));
  }

  private endPacket(stream: StreamRow, message: MessageRow): RoomPacket {
    const room = rooms.thread(stream.threadId);
    const base = { streamId: stream.id, threadId: stream.threadId };
    const key = (this.keys as RedisKeys).socketIoKey;
    switch (stream.status) {
      case 'completed':
        return encodeRoomEvent(key, room, EVENTS.streamCompleted, { ...base, message: toMessage(message) });
      case 'failed':
        return encodeRoomEvent(key, room, EVENTS.streamFailed, {
          ...base,
          messageId: stream.messageId,
          error: { code: stream.errorCode ?? GENERATION_FAILED.code, message: stream.errorMessage ?? GENERATION_FAILED.message },
        });
      default:
        return encodeRoomEvent(key, room, EVENTS.streamCancelled, { ...base, messageId: stream.messageId });
    }
  }
}
