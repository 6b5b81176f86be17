import type { StreamStatus } from '@bgs/shared';
import type { MessageRow, PrismaClient, StreamRow } from '../db/database';
import type { ChatTurn } from '../providers/provider';
import { messageVersion } from './dto';

/** How many earlier messages a generation sees. */
const HISTORY_LIMIT = 50;

export type FinalStatus = Extract<StreamStatus, 'completed' | 'failed' | 'cancelled'>;

export interface StreamEnding {
  status: FinalStatus;
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

const ACTIVE: StreamStatus[] = ['queued', 'streaming'];
const MESSAGE_STATUS = { completed: 'complete', failed: 'failed', cancelled: 'cancelled' } as const;

/**
 * The Postgres side of a stream's life: two queries when an attempt starts, a
 * checkpoint at most every CHECKPOINT_MS, one transaction when it ends. Nothing per frame.
 */
export class StreamStore {
  constructor(private readonly prisma: PrismaClient) {}

  /** Marks the attempt started and loads the conversation the provider answers. */
  async startAttempt(streamId: string, attempt: number): Promise<AttemptStart> {
    const [stream] = await this.prisma.stream.updateManyAndReturn({
      where: { id: streamId, status: { in: ACTIVE } },
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
   * Ends the stream once: stream status, final message and the thread's active stream
   * in one transaction. Returns the final message, or null when it had already ended
   * (or its thread was deleted).
   */
  async finish(streamId: string, ending: StreamEnding): Promise<{ stream: StreamRow; message: MessageRow } | null> {
    return this.prisma.$transaction(async (tx) => {
      // Only the current attempt may end the stream: a superseded worker's late write is ignored.
      const [stream] = await tx.stream.updateManyAndReturn({
        where: { id: streamId, status: { in: ACTIVE }, attempt: ending.attempt },
        data: {
          status: ending.status,
          attempt: ending.attempt,
          seq: ending.seq,
          endedAt: new Date(),
          errorCode: ending.error?.code ?? null,
          errorMessage: ending.error?.message ?? null,
        },
      });
      if (!stream) return null;
      const message = await tx.message.update({
        where: { id: stream.messageId },
        data: { status: MESSAGE_STATUS[ending.status], content: ending.content, version: messageVersion(ending.attempt, ending.seq, true) },
      });
      await tx.thread.updateMany({
        where: { id: stream.threadId, activeStreamId: streamId },
        data: { activeStreamId: null, updatedAt: new Date() },
      });
      return { stream, message };
    });
  }

  async get(streamId: string): Promise<StreamRow | null> {
    return this.prisma.stream.findUnique({ where: { id: streamId } });
  }

  async message(messageId: string): Promise<MessageRow | null> {
    return this.prisma.message.findUnique({ where: { id: messageId } });
  }
}
