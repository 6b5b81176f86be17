import type { Message, ServerEventPayload, StreamError, TerminalStreamStatus } from '@bgs/shared';
import type { RoomPacket } from './socketio-packet';

/**
 * An event of a stream, ready to go out. `send` delivers it on its own; an adapter that
 * speaks over Redis also gives the `packet` it would PUBLISH, so the live buffer can
 * carry it in the same Lua call as the write it belongs to (at most one round trip per frame).
 */
export interface Announcement {
  readonly packet?: RoomPacket;
  send(): Promise<void>;
}

/** How a stream ended, with what each audience needs to show it. */
export type StreamEnd =
  | ({ status: 'completed' } & ServerEventPayload<'stream.completed'>)
  | ({ status: 'failed'; message?: Message } & ServerEventPayload<'stream.failed'>)
  | ({ status: 'cancelled'; message?: Message } & ServerEventPayload<'stream.cancelled'>);

/**
 * Where a stream's life is told: socket.io rooms over Redis in background mode, the
 * SSE response in direct mode. Payloads are the socket events' own types, so the
 * producing side cannot drift from what clients are promised.
 */
export interface StreamEvents {
  started(e: ServerEventPayload<'stream.started'>): Announcement;
  /** A new attempt starts from empty content (retry, crashed worker). */
  reset(e: ServerEventPayload<'stream.reset'>): Announcement;
  /** Frame `seq` of `attempt` appends `text`. */
  delta(e: ServerEventPayload<'stream.delta'>): Announcement;
  ended(e: StreamEnd): Announcement;
}

/** The end of a stream that ended as `status`, told with its final message (and why, for a failure). */
export function streamEnd(
  status: TerminalStreamStatus,
  stream: { streamId: string; threadId: string; messageId: string },
  message: Message,
  error: StreamError,
): StreamEnd {
  const { streamId, threadId, messageId } = stream;
  switch (status) {
    case 'completed':
      return { status, streamId, threadId, message };
    case 'failed':
      return { status, streamId, threadId, messageId, message, error };
    case 'cancelled':
      return { status, streamId, threadId, messageId, message };
  }
}
