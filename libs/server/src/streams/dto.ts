import type { Message, Notification, NotificationType, StreamState, Thread } from '@bgs/shared';
import type { MessageRow, NotificationRow, StreamRow, ThreadRow } from '../db/database';

/** Rows → the JSON shapes of docs/protocol.md#shapes; the only place that knows both. */
export function toThread(row: ThreadRow): Thread {
  return {
    id: row.id,
    title: row.title,
    muted: row.muted,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    activeStreamId: row.activeStreamId,
  };
}

export function toMessage(row: MessageRow): Message {
  return {
    id: row.id,
    threadId: row.threadId,
    role: row.role,
    content: row.content,
    status: row.status,
    ...(row.streamId ? { streamId: row.streamId } : {}),
    version: row.version,
    createdAt: row.createdAt.toISOString(),
  };
}

export function toStreamState(row: StreamRow, content: string): StreamState {
  return {
    id: row.id,
    threadId: row.threadId,
    messageId: row.messageId,
    status: row.status,
    attempt: row.attempt,
    seq: row.seq,
    content,
    ...(row.errorCode ? { error: { code: row.errorCode, message: row.errorMessage ?? '' } } : {}),
  };
}

export function toNotification(row: NotificationRow): Notification {
  return {
    id: row.id,
    type: row.type as NotificationType,
    threadId: row.threadId,
    streamId: row.streamId,
    title: row.title,
    body: row.body,
    readAt: row.readAt ? row.readAt.toISOString() : null,
    createdAt: row.createdAt.toISOString(),
  };
}

/**
 * A message version orders every write of an assistant message: checkpoints of a
 * later attempt or frame are newer, and the final write is newer than any checkpoint.
 */
export function messageVersion(attempt: number, seq: number, final = false): number {
  return attempt * 1_000_000 + seq * 2 + (final ? 1 : 0);
}

/**
 * The inverse of `messageVersion`: which attempt and frame a stored message's content
 * belongs to. A checkpoint's content is what frames 1..seq of that attempt carried, so
 * a reader that shows the stored content must show this position with it, not the
 * stream row's (whose attempt may have moved on and whose seq is written only at the end).
 */
export function versionPosition(version: number): { attempt: number; seq: number; final: boolean } {
  const inAttempt = version % 1_000_000;
  return { attempt: Math.floor(version / 1_000_000), seq: Math.floor(inAttempt / 2), final: inAttempt % 2 === 1 };
}
