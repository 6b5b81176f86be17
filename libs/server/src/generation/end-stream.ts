import { isTerminalStreamStatus } from '@bgs/shared';
import type { MessageRow, StreamRow } from '../db/database';
import { streamEnd, type StreamEnd, type StreamEvents } from '../events/stream-events';
import type { LiveBuffer } from '../live/live-buffer';
import { GENERATION_FAILED } from '../providers/provider';
import { toMessage } from '../streams/dto';
import type { StreamEnding, StreamRecords } from '../streams/stream-records';

/** The three places a stream's end is written: Postgres, the live buffer, its audience. */
export interface StreamEndPorts {
  records: StreamRecords;
  live: LiveBuffer;
  events: StreamEvents;
}

/**
 * Ends a stream everywhere, in the order that survives a crash between the steps:
 * Postgres first (the truth), then the live buffer and the end event, once. Ending an
 * ended stream (a superseded attempt, a second cancel) re-syncs the live buffer from
 * Postgres instead. Returns the ended rows, or null when it had already ended.
 */
export async function endStream(ports: StreamEndPorts, streamId: string, ending: StreamEnding): Promise<{ stream: StreamRow; message: MessageRow } | null> {
  const ended = await ports.records.finish(streamId, ending);
  if (!ended) {
    await resyncEndedStream(ports, streamId);
    return null;
  }
  await announceEnd(ports, ended.stream, ended.message);
  return ended;
}

/**
 * Ends a stream no generation is running (a cancel before it started, a lost job) with
 * what its live buffer holds, at the position it holds it.
 */
export async function endWithLiveContent(
  ports: StreamEndPorts,
  stream: StreamRow,
  ending: Pick<StreamEnding, 'status' | 'error'>,
): Promise<{ stream: StreamRow; message: MessageRow } | null> {
  const live = await ports.live.read({ streamId: stream.id, threadId: stream.threadId });
  return endStream(ports, stream.id, { ...ending, content: live?.content ?? '', attempt: stream.attempt, seq: live?.seq ?? stream.seq });
}

/** Makes the live buffer agree with a stream Postgres already ended (nothing otherwise). */
export async function resyncEndedStream(ports: StreamEndPorts, streamId: string): Promise<void> {
  const stream = await ports.records.get(streamId);
  if (!stream || !isTerminalStreamStatus(stream.status)) return;
  const message = await ports.records.message(stream.messageId);
  if (message) await announceEnd(ports, stream, message);
}

/**
 * Its thread was deleted, rows and all: mark the live state ended and tell the thread's
 * audience, since the generation will find nothing left to end.
 */
export async function endDeletedStream(ports: Omit<StreamEndPorts, 'records'>, stream: StreamRow): Promise<void> {
  const end: StreamEnd = { status: 'cancelled', streamId: stream.id, threadId: stream.threadId, messageId: stream.messageId };
  await ports.live.finish(end, 'cancelled', null, ports.events.ended(end));
}

async function announceEnd(ports: StreamEndPorts, stream: StreamRow, message: MessageRow): Promise<void> {
  const { status } = stream;
  if (!isTerminalStreamStatus(status)) return;
  const error = { code: stream.errorCode ?? GENERATION_FAILED.code, message: stream.errorMessage ?? GENERATION_FAILED.message };
  const end = streamEnd(status, { streamId: stream.id, threadId: stream.threadId, messageId: stream.messageId }, toMessage(message), error);
  await ports.live.finish(end, status, stream.seq, ports.events.ended(end));
}
