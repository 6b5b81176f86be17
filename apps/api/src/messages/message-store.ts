import { randomUUID } from 'node:crypto';
import { ApiError, notFound, type SendMessageResult } from '@bgs/shared';
import { groupCommit, Prisma, toMessage, toStreamState, type MessageRow, type PrismaClient, type SqlRunner, type StreamRow } from '@bgs/server';

export interface NewTurn {
  userId: string;
  threadId: string;
  content: string;
  model: string;
  idempotencyKey: string | null;
}

export interface CreatedTurn {
  result: SendMessageResult;
  stream: StreamRow;
  /** False when an earlier request with the same Idempotency-Key created it. */
  created: boolean;
}

/** Postgres 23505 (unique violation), as pg reports it. */
const isUniqueViolation = (err: unknown) => (err as { code?: unknown } | null)?.code === '23505';

/** Postgres 40P01: two statements locked the same rows in opposite orders and one was aborted. */
const isDeadlock = (err: unknown) => (err as { code?: unknown } | null)?.code === '40P01';

/** A turn waiting for its claim: the rows it inserts if it gets its thread. */
interface PendingTurn {
  turn: NewTurn;
  stream: StreamRow;
  userMessage: MessageRow;
  assistantMessage: MessageRow;
}

/** Whether a turn got its thread, or why its statement failed. */
type Claim = { claimed: boolean } | { failed: unknown };

/**
 * The Postgres side of sending a message: the user message, the assistant message
 * that will stream, and the stream row, created together with the thread's active
 * stream claimed, so two sends can never both start a stream on one thread.
 */
export class MessageStore {
  constructor(
    private readonly prisma: PrismaClient,
    /** Sending runs on the pool without Prisma: a burst of sends is the busiest moment of an API. */
    private readonly sql: SqlRunner,
  ) {}

  /** Sends in a burst share statements (group commit): a few carry hundreds of turns. */
  private readonly claim = groupCommit((turns: PendingTurn[]) => this.claimTogether(turns), { maxBatch: 100, concurrency: 2 });

  async list(userId: string, threadId: string, limit: number, before: string | undefined): Promise<MessageRow[]> {
    const thread = await this.prisma.thread.findFirst({ where: { id: threadId, userId }, select: { id: true } });
    if (!thread) throw notFound('thread');
    const anchor = before ? await this.prisma.message.findFirst({ where: { id: before, threadId }, select: { createdAt: true, id: true } }) : null;
    if (before && !anchor) throw new ApiError('invalid_request', 'unknown `before` message', [{ path: 'before', message: 'no such message in this thread' }]);
    const rows = await this.prisma.message.findMany({
      where: {
        threadId,
        ...(anchor ? { OR: [{ createdAt: { lt: anchor.createdAt } }, { createdAt: anchor.createdAt, id: { lt: anchor.id } }] } : {}),
      },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: limit,
    });
    return rows.reverse();
  }

  /** Returns the turn an earlier request with this key created, if any. */
  async findByIdempotencyKey(userId: string, threadId: string, key: string): Promise<CreatedTurn | null> {
    const user = await this.prisma.message.findFirst({ where: { threadId, idempotencyKey: key, thread: { userId } } });
    if (!user) return null;
    const stream = await this.prisma.stream.findFirst({ where: { userMessageId: user.id }, include: { message: true } });
    if (!stream) return null;
    const { message, ...streamRow } = stream;
    return {
      created: false,
      stream: streamRow,
      result: { userMessage: toMessage(user), assistantMessage: toMessage(message), stream: toStreamState(streamRow, message.content) },
    };
  }

  async createTurn(turn: NewTurn): Promise<CreatedTurn> {
    const streamId = randomUUID();
    const userMessageId = randomUUID();
    const assistantMessageId = randomUUID();
    const now = Date.now();
    // Distinct timestamps keep "oldest first" stable: the question, then its answer.
    const askedAt = new Date(now);
    const answeredAt = new Date(now + 1);
    const userMessage: MessageRow = {
      id: userMessageId, threadId: turn.threadId, role: 'user', content: turn.content, status: 'complete',
      streamId: null, version: 1, idempotencyKey: turn.idempotencyKey, createdAt: askedAt,
    };
    const assistantMessage: MessageRow = {
      id: assistantMessageId, threadId: turn.threadId, role: 'assistant', content: '', status: 'streaming',
      streamId, version: 1, idempotencyKey: null, createdAt: answeredAt,
    };
    const stream: StreamRow = {
      id: streamId, threadId: turn.threadId, messageId: assistantMessageId, userMessageId, userId: turn.userId, model: turn.model,
      status: 'queued', attempt: 0, seq: 0, errorCode: null, errorMessage: null, createdAt: askedAt, startedAt: null, endedAt: null,
      notificationDecision: null, notificationDecidedAt: null,
    };
    try {
      const claim = await this.claim({ turn, stream, userMessage, assistantMessage });
      if ('failed' in claim) throw claim.failed;
      if (!claim.claimed) {
        const [thread] = await this.sql.query<{ activeStreamId: string | null }>(Prisma.sql`
          SELECT active_stream_id AS "activeStreamId" FROM threads WHERE id = ${turn.threadId} AND user_id = ${turn.userId}`);
        if (!thread) throw notFound('thread');
        throw new ApiError('stream_in_progress', 'this thread already has an answer streaming; wait for it or cancel it', { activeStreamId: thread.activeStreamId });
      }
      return {
        created: true,
        stream,
        result: { userMessage: toMessage(userMessage), assistantMessage: toMessage(assistantMessage), stream: toStreamState(stream, '') },
      };
    } catch (err) {
      // A concurrent request with the same Idempotency-Key won the race (it claimed the
      // thread first, or inserted the key first): answer with its turn.
      const lostRace = isUniqueViolation(err) || (err instanceof ApiError && err.code === 'stream_in_progress');
      if (turn.idempotencyKey && lostRace) {
        const earlier = await this.findByIdempotencyKey(turn.userId, turn.threadId, turn.idempotencyKey);
        if (earlier) return earlier;
      }
      throw err;
    }
  }

  /**
   * One statement for every turn sent meanwhile: each claims its thread's active stream,
   * and only a claimed turn inserts its three rows. Atomic, and no pooled connection held
   * across round trips. A second turn for the same thread in one batch is not claimed
   * (one UPDATE changes a row once), as it would not be one statement later.
   */
  private async claimTogether(turns: PendingTurn[]): Promise<Claim[]> {
    try {
      const rows = await this.sql.query<{ streamId: string }>(Prisma.sql`
        WITH wanted (stream_id, user_message_id, answer_id, thread_id, user_id, content, idempotency_key, model, asked_at, answered_at)
          AS (SELECT * FROM unnest(
            ${turns.map((t) => t.stream.id)}::uuid[], ${turns.map((t) => t.userMessage.id)}::uuid[], ${turns.map((t) => t.assistantMessage.id)}::uuid[],
            ${turns.map((t) => t.turn.threadId)}::text[], ${turns.map((t) => t.turn.userId)}::text[], ${turns.map((t) => t.turn.content)}::text[],
            ${turns.map((t) => t.turn.idempotencyKey)}::text[], ${turns.map((t) => t.turn.model)}::text[],
            ${turns.map((t) => t.userMessage.createdAt)}::timestamptz[], ${turns.map((t) => t.assistantMessage.createdAt)}::timestamptz[])),
        claim AS (
          UPDATE threads t SET active_stream_id = w.stream_id, updated_at = w.asked_at
          FROM wanted w
          WHERE t.id = w.thread_id AND t.user_id = w.user_id AND t.active_stream_id IS NULL
          RETURNING w.*
        ), asked AS (
          INSERT INTO messages (id, thread_id, role, content, status, idempotency_key, created_at)
          SELECT user_message_id, thread_id, 'user', content, 'complete', idempotency_key, asked_at FROM claim
        ), answer AS (
          INSERT INTO messages (id, thread_id, role, content, status, stream_id, created_at)
          SELECT answer_id, thread_id, 'assistant', '', 'streaming', stream_id, answered_at FROM claim
        ), stream AS (
          INSERT INTO streams (id, thread_id, message_id, user_message_id, user_id, model, created_at)
          SELECT stream_id, thread_id, answer_id, user_message_id, user_id, model, asked_at FROM claim
        )
        SELECT stream_id::text AS "streamId" FROM claim`, 'send-claims');
      const claimed = new Set(rows.map((r) => r.streamId));
      return turns.map(({ stream }) => ({ claimed: claimed.has(stream.id) }));
    } catch (err) {
      // One turn whose Idempotency-Key is taken fails the whole statement, and two batches
      // that both hold sends for the same threads (repeated sends) can deadlock: then each
      // turn goes alone (one thread row each, no cycle), so only a turn at fault fails.
      if (turns.length === 1 || !(isUniqueViolation(err) || isDeadlock(err))) throw err;
      return Promise.all(turns.map((t) => this.claimTogether([t]).then(([claim]) => claim, (failed: unknown) => ({ failed }))));
    }
  }

  /** Undoes a turn whose job could not be enqueued, so the request can simply be retried. */
  async discardTurn(stream: StreamRow): Promise<void> {
    await this.prisma.$transaction([
      this.prisma.thread.updateMany({ where: { id: stream.threadId, activeStreamId: stream.id }, data: { activeStreamId: null } }),
      this.prisma.message.deleteMany({ where: { id: { in: [stream.messageId, stream.userMessageId] } } }),
    ]);
  }
}
