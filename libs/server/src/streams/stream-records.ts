import { MESSAGE_STATUS_OF, type TerminalStreamStatus } from '@bgs/shared';
import { Prisma, type MessageRow, type StreamRow } from '../db/database';
import type { SqlRunner } from '../db/sql';
import { AttemptStarts, type AttemptStart } from './attempt-starts';
import { TERMINAL_STATUSES_SQL } from './status-sql';
import { messageVersion } from './dto';

/** How a stream ends: what `StreamRecords.finish` writes. */
export interface StreamEnding {
  status: TerminalStreamStatus;
  /** The content of the final attempt (partial for failed and cancelled). */
  content: string;
  attempt: number;
  seq: number;
  error?: { code: string; message: string };
}

/** A streams row (alias `s`) with its columns named as `StreamRow` names them. */
const STREAM_COLUMNS = Prisma.sql`s.id, s.thread_id AS "threadId", s.message_id AS "messageId", s.user_message_id AS "userMessageId",
  s.user_id AS "userId", s.model, s.status::text AS status, s.attempt, s.seq, s.error_code AS "errorCode",
  s.error_message AS "errorMessage", s.created_at AS "createdAt", s.started_at AS "startedAt", s.ended_at AS "endedAt",
  s.notification_decision::text AS "notificationDecision", s.notification_decided_at AS "notificationDecidedAt"`;

/** A messages row (alias `m`) with its columns named as `MessageRow` names them. */
const MESSAGE_COLUMNS = Prisma.sql`m.id, m.thread_id AS "threadId", m.role::text AS role, m.status::text AS status, m.content,
  m.stream_id AS "streamId", m.version, m.idempotency_key AS "idempotencyKey", m.created_at AS "createdAt"`;

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
 * The Postgres side of a stream's life: one statement when an attempt starts (shared by
 * the attempts that start together), a checkpoint at most every CHECKPOINT_MS, one
 * statement when it ends. Nothing per frame. Plain SQL on the pool (`db.sql`), no Prisma.
 */
export class StreamRecords {
  private readonly starts: AttemptStarts;

  constructor(private readonly sql: SqlRunner) {
    this.starts = new AttemptStarts(sql);
  }

  /** Marks the attempt started and loads the conversation the provider answers. */
  startAttempt(streamId: string, attempt: number): Promise<AttemptStart> {
    return this.starts.start(streamId, attempt);
  }

  /** Saves the live content so far; ignored once the message is final or a newer write landed. */
  async checkpoint(messageId: string, content: string, attempt: number, seq: number): Promise<boolean> {
    const version = messageVersion(attempt, seq);
    const updated = await this.sql.execute(Prisma.sql`
      UPDATE messages SET content = ${content}, version = ${version}
      WHERE id = ${messageId}::uuid AND status = 'streaming'::"MessageStatus" AND version < ${version}`);
    return updated === 1;
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
    const rows = await this.sql.query<FinishedRow>(Prisma.sql`
      WITH s AS (
        UPDATE streams SET status = ${status}, seq = ${ending.seq}, ended_at = now(),
          error_code = ${ending.error?.code ?? null}, error_message = ${ending.error?.message ?? null}
        WHERE id = ${streamId}::uuid AND status NOT IN (${TERMINAL_STATUSES_SQL}) AND attempt = ${ending.attempt}
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
      SELECT ${STREAM_COLUMNS},
        m.role::text AS "messageRole", m.status::text AS "messageStatus", m.content AS "messageContent",
        m.version AS "messageVersion", m.idempotency_key AS "messageIdempotencyKey", m.created_at AS "messageCreatedAt"
      FROM s JOIN m ON m.id = s.message_id`);
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
    const [row] = await this.sql.query<StreamRow>(Prisma.sql`SELECT ${STREAM_COLUMNS} FROM streams s WHERE s.id = ${streamId}::uuid`);
    return row ?? null;
  }

  async message(messageId: string): Promise<MessageRow | null> {
    const [row] = await this.sql.query<MessageRow>(Prisma.sql`SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.id = ${messageId}::uuid`);
    return row ?? null;
  }

  /** Streams not ended yet and created more than `olderThanMs` ago, oldest first (the lost-stream reaper's candidates). */
  activeOlderThan(olderThanMs: number, limit: number): Promise<StreamRow[]> {
    return this.sql.query<StreamRow>(Prisma.sql`
      SELECT ${STREAM_COLUMNS} FROM streams s
      WHERE s.status NOT IN (${TERMINAL_STATUSES_SQL}) AND s.created_at < now() - make_interval(secs => ${olderThanMs / 1000}::float8)
      ORDER BY s.created_at LIMIT ${limit}`);
  }
}
