import { MESSAGE_STATUS_OF, type TerminalStreamStatus } from '@bgs/shared';
import { Prisma, type MessageRow, type StreamRow } from '../db/database';
import { msAgo, type SqlRunner } from '../db/sql';
import { groupCommit } from '../db/group-commit';
import { AttemptStarts, type AttemptStart } from './attempt-starts';
import { MESSAGE_COLUMNS, STREAM_COLUMNS } from './row-columns';
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

/** The row `finish` reads back: the ended stream, and its message's columns prefixed. */
type FinishedRow = StreamRow & {
  messageRole: MessageRow['role'];
  messageStatus: MessageRow['status'];
  messageContent: string;
  messageVersion: number;
  messageIdempotencyKey: string | null;
  messageCreatedAt: Date;
};

/** A message's live content waiting to be saved, at the version its attempt and seq make. */
interface Checkpoint {
  messageId: string;
  content: string;
  version: number;
}

/** A stream waiting for its end to be written. */
interface Finishing {
  streamId: string;
  ending: StreamEnding;
}

/** The ended stream and its final message, from the row `finish` reads back. */
function endedRows(row: FinishedRow): { stream: StreamRow; message: MessageRow } {
  const { messageRole, messageStatus, messageContent, messageVersion: version, messageIdempotencyKey, messageCreatedAt, ...stream } = row;
  return {
    stream,
    message: {
      id: stream.messageId,
      threadId: stream.threadId,
      role: messageRole,
      status: messageStatus,
      content: messageContent,
      streamId: stream.id,
      version,
      idempotencyKey: messageIdempotencyKey,
      createdAt: messageCreatedAt,
    },
  };
}

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
  checkpoint(messageId: string, content: string, attempt: number, seq: number): Promise<boolean> {
    return this.checkpointTogether({ messageId, content, version: messageVersion(attempt, seq) });
  }

  /** Checkpoints written together: every running stream writes one each CHECKPOINT_MS. */
  private readonly checkpointTogether = groupCommit((batch: Checkpoint[]) => this.checkpointBatch(batch), { maxBatch: 200, concurrency: 2 });

  private async checkpointBatch(batch: Checkpoint[]): Promise<boolean[]> {
    // Of two checkpoints of one message only the newer is written, as it would win alone.
    const newest = new Map<string, Checkpoint>();
    for (const c of batch) if ((newest.get(c.messageId)?.version ?? -1) < c.version) newest.set(c.messageId, c);
    const written = [...newest.values()];
    const rows = await this.sql.query<{ id: string }>(Prisma.sql`
      UPDATE messages SET content = c.content, version = c.version
      FROM unnest(${written.map((c) => c.messageId)}::uuid[], ${written.map((c) => c.content)}::text[], ${written.map((c) => c.version)}::int[]) AS c (id, content, version)
      WHERE messages.id = c.id AND messages.status = 'streaming'::"MessageStatus" AND messages.version < c.version
      RETURNING messages.id`, 'checkpoints');
    const saved = new Set(rows.map((r) => r.id));
    return batch.map((c) => newest.get(c.messageId) === c && saved.has(c.messageId));
  }

  /**
   * Ends the stream once: stream status, final message and the thread's active stream,
   * in one statement (data-modifying CTEs run atomically and hold no pooled connection
   * between round trips), shared by the streams that end together (hundreds end within
   * a second when a burst of answers completes). Only the current attempt may end the
   * stream: a superseded worker's late write is ignored. Returns the ended rows, or null
   * when it had already ended (or its thread was deleted).
   */
  finish(streamId: string, ending: StreamEnding): Promise<{ stream: StreamRow; message: MessageRow } | null> {
    return this.finishTogether({ streamId, ending });
  }

  private readonly finishTogether = groupCommit((batch: Finishing[]) => this.finishBatch(batch), { maxBatch: 100, concurrency: 2 });

  private async finishBatch(batch: Finishing[]): Promise<Array<{ stream: StreamRow; message: MessageRow } | null>> {
    // Two endings of one stream (a cancel racing a completion) go one after the other, as they would alone.
    const ids = new Set<string>();
    const first = batch.filter(({ streamId }) => !ids.has(streamId) && ids.add(streamId));
    if (first.length < batch.length) {
      const firstEnded = await this.finishBatch(first);
      const later = batch.filter((f) => !first.includes(f));
      const laterEnded = await this.finishBatch(later);
      return batch.map((f) => (first.includes(f) ? firstEnded[first.indexOf(f)] : laterEnded[later.indexOf(f)]));
    }
    const endings = batch.map((f) => f.ending);
    const rows = await this.sql.query<FinishedRow>(Prisma.sql`
      WITH e (id, status, seq, attempt, error_code, error_message, content, message_status, version) AS (
        SELECT * FROM unnest(
          ${batch.map((f) => f.streamId)}::uuid[], ${endings.map((e) => e.status)}::"StreamStatus"[], ${endings.map((e) => e.seq)}::int[],
          ${endings.map((e) => e.attempt)}::int[], ${endings.map((e) => e.error?.code ?? null)}::text[], ${endings.map((e) => e.error?.message ?? null)}::text[],
          ${endings.map((e) => e.content)}::text[], ${endings.map((e) => MESSAGE_STATUS_OF[e.status])}::"MessageStatus"[],
          ${endings.map((e) => messageVersion(e.attempt, e.seq, true))}::int[])
      ),
      s AS (
        UPDATE streams SET status = e.status, seq = e.seq, ended_at = now(), error_code = e.error_code, error_message = e.error_message
        FROM e WHERE streams.id = e.id AND streams.status NOT IN (${TERMINAL_STATUSES_SQL}) AND streams.attempt = e.attempt
        RETURNING streams.*
      ), m AS (
        UPDATE messages SET status = e.message_status, content = e.content, version = e.version
        FROM s JOIN e ON e.id = s.id WHERE messages.id = s.message_id
        RETURNING messages.*
      ), t AS (
        UPDATE threads SET active_stream_id = NULL, updated_at = now()
        FROM s WHERE threads.id = s.thread_id AND threads.active_stream_id = s.id
        RETURNING threads.id
      )
      SELECT ${STREAM_COLUMNS},
        m.role::text AS "messageRole", m.status::text AS "messageStatus", m.content AS "messageContent",
        m.version AS "messageVersion", m.idempotency_key AS "messageIdempotencyKey", m.created_at AS "messageCreatedAt"
      FROM s JOIN m ON m.id = s.message_id`, 'stream-ends');
    const byStream = new Map(rows.map((row) => [row.id, row]));
    return batch.map(({ streamId }) => {
      const row = byStream.get(streamId);
      return row ? endedRows(row) : null;
    });
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
      WHERE s.status NOT IN (${TERMINAL_STATUSES_SQL}) AND s.created_at < ${msAgo(olderThanMs)}
      ORDER BY s.created_at LIMIT ${limit}`);
  }
}
