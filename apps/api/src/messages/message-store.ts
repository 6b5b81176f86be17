import { randomUUID } from 'node:crypto';
import { ApiError, notFound, type SendMessageResult } from '@bgs/shared';
import { Prisma, toMessage, toStreamState, type MessageRow, type PrismaClient, type StreamRow } from '@bgs/server';

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

/** Postgres 23505, as Prisma reports it from a model call (P2002) or from a raw statement. */
const isUniqueViolation = (err: unknown) =>
  err instanceof Prisma.PrismaClientKnownRequestError && (err.code === 'P2002' || /23505|unique constraint/i.test(`${err.message} ${JSON.stringify(err.meta ?? {})}`));

/**
 * The Postgres side of sending a message: the user message, the assistant message
 * that will stream, and the stream row, created together with the thread's active
 * stream claimed, so two sends can never both start a stream on one thread.
 */
export class MessageStore {
  constructor(private readonly prisma: PrismaClient) {}

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
      // One statement: claim the thread's active stream, insert the three rows only if the
      // claim succeeded. Atomic, and no pooled connection held across round trips.
      const [{ claimed }] = await this.prisma.$queryRaw<Array<{ claimed: number }>>`
        WITH claim AS (
          UPDATE threads SET active_stream_id = ${streamId}::uuid, updated_at = ${askedAt}
          WHERE id = ${turn.threadId} AND user_id = ${turn.userId} AND active_stream_id IS NULL
          RETURNING id
        ), asked AS (
          INSERT INTO messages (id, thread_id, role, content, status, idempotency_key, created_at)
          SELECT ${userMessageId}::uuid, id, 'user', ${turn.content}, 'complete', ${turn.idempotencyKey}, ${askedAt} FROM claim
        ), answer AS (
          INSERT INTO messages (id, thread_id, role, content, status, stream_id, created_at)
          SELECT ${assistantMessageId}::uuid, id, 'assistant', '', 'streaming', ${streamId}::uuid, ${answeredAt} FROM claim
        ), stream AS (
          INSERT INTO streams (id, thread_id, message_id, user_message_id, user_id, model, created_at)
          SELECT ${streamId}::uuid, id, ${assistantMessageId}::uuid, ${userMessageId}::uuid, ${turn.userId}, ${turn.model}, ${askedAt} FROM claim
        )
        SELECT count(*)::int AS claimed FROM claim`;
      if (claimed === 0) {
        const exists = await this.prisma.thread.findFirst({ where: { id: turn.threadId, userId: turn.userId }, select: { activeStreamId: true } });
        if (!exists) throw notFound('thread');
        throw new ApiError('stream_in_progress', 'this thread already has an answer streaming; wait for it or cancel it', { activeStreamId: exists.activeStreamId });
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

  /** Undoes a turn whose job could not be enqueued, so the request can simply be retried. */
  async discardTurn(stream: StreamRow): Promise<void> {
    await this.prisma.$transaction([
      this.prisma.thread.updateMany({ where: { id: stream.threadId, activeStreamId: stream.id }, data: { activeStreamId: null } }),
      this.prisma.message.deleteMany({ where: { id: { in: [stream.messageId, stream.userMessageId] } } }),
    ]);
  }
}
