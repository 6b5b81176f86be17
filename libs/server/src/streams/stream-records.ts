import { MESSAGE_STATUS_OF, TERMINAL_STREAM_STATUSES, type TerminalStreamStatus } from '@bgs/shared';
import { Prisma, type MessageRow, type PrismaClient, type StreamRow } from '../db/database';
import type { ChatTurn } from '../providers/provider';
import { messageVersion } from './dto';

/** How many earlier messages a generation sees. */
const HISTORY_LIMIT = 50;

/** How a stream ends: what `StreamRecords.finish` writes. */
export interface StreamEnding {
  status: TerminalStreamStatus;
  /** The content of the final attempt (partial for failed and cancelled). */
  content: string;
  attempt: number;
  seq: number;
  error?: { code: string; message: string };
}

export type AttemptStart =
  | { kind: 'started'; stream: StreamRow; history: ChatTurn[] }
  | { kind: 'ended'; stream: StreamRow }
  | { kind: 'gone' };

/** `status NOT IN (…terminal)` for raw SQL: the terminal set comes from its one constant. */
const NOT_ENDED = Prisma.sql`status NOT IN (${Prisma.join(TERMINAL_STREAM_STATUSES.map((s) => Prisma.sql`${s}::"StreamStatus"`))})`;

/** The row `finish` reads back: the ended stream, and its message's columns prefixed. */
type FinishedRow = StreamRow & {
  messageRole: MessageRow['role'];
  messageStatus: MessageRow['status'];
  messageContent: string;
  messageVersion: number;
  messageIdempotencyKey: string | null;
  messageCreatedAt: Date;
};

/**
 * The Postgres side of a stream's life: two queries when an attempt starts, a
 * checkpoint at most every CHECKPOINT_MS, one transaction when it ends. Nothing per frame.
 */
export class StreamRecords {
  constructor(private readonly prisma: PrismaClient) {}

  /** Marks the attempt started and loads the conversation the provider answers. */
  async startAttempt(streamId: string, attempt: number): Promise<AttemptStart> {
    const [stream] = await this.prisma.stream.updateManyAndReturn({
      where: { id: streamId, status: { notIn: [...TERMINAL_STREAM_STATUSES] } },
      data: { status: 'streaming', attempt, startedAt: new Date() },
    });
    if (!stream) {
      const ended = await this.prisma.stream.findUnique({ where: { id: streamId } });
      return ended ? { kind: 'ended', stream: ended } : { kind: 'gone' };
    }
    const rows = await this.prisma.message.findMany({
      where: { threadId: stream.threadId, id: { not: stream.messageId } },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: HISTORY_LIMIT,
      select: { role: true, content: true },
    });
    const history = rows.reverse().filter((m) => m.content !== '');
    return { kind: 'started', stream, history };
  }

  /** Saves the live content so far; ignored once the message is final or a newer write landed. */
  async checkpoint(messageId: string, content: string, attempt: number, seq: number): Promise<boolean> {
    const version = messageVersion(attempt, seq);
    const r = await this.prisma.message.updateMany({
      where: { id: messageId, status: 'streaming', version: { lt: version } },
      data: { content, version },
    });
    return r.count === 1;
  }

  /**
   * Ends the stream once: stream status, final message and the thread's active stream,
   * in one statement (data-modifying CTEs run atomically and hold no pooled connection
   * between round trips, which matters when hundreds of streams end at once). Only the
   * current attempt may end the stream: a superseded worker's late write is ignored.
   * Returns the ended rows, or null when it had already ended (or its thread was deleted).
   */
  async finish(streamId: string, ending: StreamEnding): Promise<{ stream: StreamRow; message: MessageRow } | null> {
    const status = Prisma.sql`${ending.status}::"StreamStatus"`;
    const messageStatus = Prisma.sql`${MESSAGE_STATUS_OF[ending.status]}::"MessageStatus"`;
    const rows = await this.prisma.$queryRaw<FinishedRow[]>`
      WITH s AS (
        UPDATE streams SET status = ${status}, seq = ${ending.seq}, ended_at = now(),
          error_code = ${ending.error?.code ?? null}, error_message = ${ending.error?.message ?? null}
        WHERE id = ${streamId}::uuid AND ${NOT_ENDED} AND attempt = ${ending.attempt}
        RETURNING *
      ), m AS (
        UPDATE messages SET status = ${messageStatus}, content = ${ending.content},
          version = ${messageVersion(ending.attempt, ending.seq, true)}
        FROM s WHERE messages.id = s.message_id
        RETURNING messages.*
      ), t AS (
        UPDATE threads SET active_stream_id = NULL, updated_at = now()
        FROM s WHERE threads.id = s.thread_id AND threads.active_stream_id = s.id
        RETURNING threads.id
      )
      SELECT s.id, s.thread_id AS "threadId", s.message_id AS "messageId", s.user_message_id AS "userMessageId",
        s.user_id AS "userId", s.model, s.status::text AS status, s.attempt, s.seq, s.error_code AS "errorCode",
        s.error_message AS "errorMessage", s.created_at AS "createdAt", s.started_at AS "startedAt", s.ended_at AS "endedAt",
        s.notification_decision::text AS "notificationDecision", s.notification_decided_at AS "notificationDecidedAt",
        m.role::text AS "messageRole", m.status::text AS "messageStatus", m.content AS "messageContent",
        m.version AS "messageVersion", m.idempotency_key AS "messageIdempotencyKey", m.created_at AS "messageCreatedAt"
      FROM s JOIN m ON m.id = s.message_id`;
    const [row] = rows;
    if (!row) return null;
    const { messageRole, messageStatus: mStatus, messageContent, messageVersion: version, messageIdempotencyKey, messageCreatedAt, ...stream } = row;
    return {
      stream,
      message: {
        id: stream.messageId,
        threadId: stream.threadId,
        role: messageRole,
        status: mStatus,
        content: messageContent,
        streamId: stream.id,
        version,
        idempotencyKey: messageIdempotencyKey,
        createdAt: messageCreatedAt,
      },
    };
  }

  async get(streamId: string): Promise<StreamRow | null> {
    return this.prisma.stream.findUnique({ where: { id: streamId } });
  }

  async message(messageId: string): Promise<MessageRow | null> {
    return this.prisma.message.findUnique({ where: { id: messageId } });
  }
}
