import { randomUUID } from 'node:crypto';
import { notFound } from '@bgs/shared';
import { Prisma, THREAD_COLUMNS, type PrismaClient, type SqlRunner, type StreamRow, type ThreadRow } from '@bgs/server';
import { olderThan, page, type Cursor } from '../http/cursor';

export const DEFAULT_THREAD_TITLE = 'New chat';

/** Threads, always scoped to their owner: someone else's thread is simply not found. */
export class ThreadStore {
  constructor(
    private readonly prisma: PrismaClient,
    /** The ownership check every `thread.open` makes goes straight to the pool. */
    private readonly sql: SqlRunner,
  ) {}

  create(userId: string, title?: string): Promise<ThreadRow> {
    return this.prisma.thread.create({ data: { id: randomUUID(), userId, title: title ?? DEFAULT_THREAD_TITLE } });
  }

  async list(userId: string, limit: number, cursor: Cursor | null) {
    const rows = await this.prisma.thread.findMany({
      where: { userId, ...olderThan(cursor, 'updatedAt') },
      orderBy: [{ updatedAt: 'desc' }, { id: 'desc' }],
      take: limit + 1,
    });
    return page(rows, limit, (t) => t.updatedAt);
  }

  /**
   * The thread under an id the client chose (an AI SDK chat id): created on first use,
   * found afterwards; someone else's is not found, like any other.
   */
  async ensure(userId: string, threadId: string, title: string): Promise<ThreadRow> {
    await this.prisma.thread.createMany({ data: [{ id: threadId, userId, title }], skipDuplicates: true });
    return this.get(userId, threadId);
  }

  async get(userId: string, threadId: string): Promise<ThreadRow> {
    const [thread] = await this.sql.query<ThreadRow>(Prisma.sql`SELECT ${THREAD_COLUMNS} FROM threads t WHERE t.id = ${threadId} AND t.user_id = ${userId}`);
    if (!thread) throw notFound('thread');
    return thread;
  }

  /** The thread's running (or queued) stream, if it has one. */
  async activeStream(thread: ThreadRow): Promise<StreamRow | null> {
    return thread.activeStreamId ? this.prisma.stream.findUnique({ where: { id: thread.activeStreamId } }) : null;
  }

  /** Renaming or muting is not activity: `updatedAt` (the list order) moves with messages only. */
  async update(userId: string, threadId: string, changes: { title?: string; muted?: boolean }): Promise<ThreadRow> {
    const [thread] = await this.prisma.thread.updateManyAndReturn({ where: { id: threadId, userId }, data: changes });
    if (!thread) throw notFound('thread');
    return thread;
  }

  /** Deletes the thread with its messages, streams and notifications. */
  async delete(userId: string, threadId: string): Promise<void> {
    const { count } = await this.prisma.thread.deleteMany({ where: { id: threadId, userId } });
    if (count === 0) throw notFound('thread');
  }
}
