import { randomUUID } from 'node:crypto';
import { ApiError } from '@bgs/shared';
import { countingDatabase, preparedText } from '../../../../test/support/counters';
import { createTestDatabase, type TestDatabase } from '../../../../test/support/database';
import { MessageStore, type NewTurn } from './message-store';

/**
 * Sends in a burst, against real Postgres: the turns sent together share one statement
 * (group commit), and each still gets what it would alone: its own rows, a 409 when its
 * thread is busy, a 404 for someone else's thread, the first turn back for a repeated
 * Idempotency-Key.
 */
describe('MessageStore.createTurn in a burst', () => {
  let testDb: TestDatabase;
  let db: ReturnType<typeof countingDatabase>;
  let store: MessageStore;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = countingDatabase(testDb.url);
    store = new MessageStore(db.prisma, db.sql);
  });
  afterAll(async () => {
    await db.close();
    await testDb.drop();
  });

  async function threadsOf(userId: string, n: number): Promise<string[]> {
    await db.prisma.user.create({ data: { id: userId } });
    const ids = Array.from({ length: n }, () => randomUUID());
    await db.prisma.thread.createMany({ data: ids.map((id) => ({ id, userId, title: 'burst' })) });
    return ids;
  }

  const turn = (userId: string, threadId: string, content: string, idempotencyKey: string | null = null): NewTurn => ({
    userId, threadId, content, model: 'simulated-1', idempotencyKey,
  });

  it('sends a batch of turns as one prepared statement whose text no batch size changes', async () => {
    const [alone, ...pair] = await threadsOf('prepared-user', 3);
    const from = db.sent().length;
    await store.createTurn(turn('prepared-user', alone, 'one'));
    await Promise.all(pair.map((t) => store.createTurn(turn('prepared-user', t, 'two'))));
    const sent = db.sent().slice(from);
    expect(sent.map((st) => st.name)).toEqual(['send-claims', 'send-claims']);
    preparedText(sent, 'send-claims');
  });

  it('stores 50 turns sent at once with one statement, each with its own rows and its thread claimed', async () => {
    const threads = await threadsOf('burst-user', 50);
    const before = db.statements();
    const turns = await Promise.all(threads.map((t, i) => store.createTurn(turn('burst-user', t, `question ${i}`))));
    expect(db.statements() - before).toBe(1);

    const streams = await db.prisma.stream.findMany({ where: { threadId: { in: threads } }, include: { message: true } });
    expect(streams).toHaveLength(50);
    for (const [i, created] of turns.entries()) {
      expect(created.created).toBe(true);
      expect(created.result.userMessage).toEqual(expect.objectContaining({ threadId: threads[i], role: 'user', content: `question ${i}` }));
      const row = streams.find((s) => s.id === created.stream.id);
      expect(row).toEqual(expect.objectContaining({ threadId: threads[i], userId: 'burst-user', status: 'queued', messageId: created.result.assistantMessage.id }));
      expect(row?.message).toEqual(expect.objectContaining({ role: 'assistant', status: 'streaming', content: '' }));
    }
    const claimed = await db.prisma.thread.findMany({ where: { id: { in: threads } }, select: { id: true, activeStreamId: true } });
    expect(Object.fromEntries(claimed.map((t) => [t.id, t.activeStreamId]))).toEqual(Object.fromEntries(turns.map((c, i) => [threads[i], c.stream.id])));
    const questions = await db.prisma.message.count({ where: { threadId: { in: threads }, role: 'user' } });
    expect(questions).toBe(50);
  });

  it('in one batch: of two sends to one thread one is stored and the other is a 409, someone else’s thread a 404', async () => {
    const [mine, busy] = await threadsOf('mixed-user', 2);
    const [theirs] = await threadsOf('other-user', 1);
    const settled = await Promise.allSettled([
      store.createTurn(turn('mixed-user', busy, 'first')),
      store.createTurn(turn('mixed-user', busy, 'second')),
      store.createTurn(turn('mixed-user', theirs, 'not mine')),
      store.createTurn(turn('mixed-user', mine, 'fine')),
    ]);
    const [a, b, foreign, fine] = settled;
    expect(fine.status).toBe('fulfilled');
    expect(foreign).toEqual({ status: 'rejected', reason: expect.objectContaining({ code: 'not_found' }) });
    // Sent together, either may win; exactly one does, and the other is told the thread is busy.
    const stored = [a, b].filter((r) => r.status === 'fulfilled');
    const refused = [a, b].filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(stored).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(refused[0].reason).toBeInstanceOf(ApiError);
    expect(refused[0].reason).toEqual(expect.objectContaining({ code: 'stream_in_progress', details: { activeStreamId: (stored[0] as PromiseFulfilledResult<{ stream: { id: string } }>).value.stream.id } }));
    const winner = a.status === 'fulfilled' ? 'first' : 'second';
    expect(await db.prisma.message.findMany({ where: { threadId: busy }, select: { content: true, role: true } })).toEqual(
      expect.arrayContaining([{ content: winner, role: 'user' }, { content: '', role: 'assistant' }]),
    );
    expect(await db.prisma.message.count({ where: { threadId: busy } })).toBe(2);
    expect(await db.prisma.message.count({ where: { threadId: theirs } })).toBe(0);
  });

  it('a repeated Idempotency-Key in a batch fails only itself, and gets the first turn back', async () => {
    const [keyed, other] = await threadsOf('idem-burst-user', 2);
    const first = await store.createTurn(turn('idem-burst-user', keyed, 'once', 'key-1'));
    // The first turn ended, so its thread is free again: only the key can stop the repeat.
    await db.prisma.thread.update({ where: { id: keyed }, data: { activeStreamId: null } });
    const [repeat, fresh] = await Promise.all([
      store.createTurn(turn('idem-burst-user', keyed, 'once', 'key-1')),
      store.createTurn(turn('idem-burst-user', other, 'new question')),
    ]);
    expect(repeat).toEqual(expect.objectContaining({ created: false }));
    expect(repeat.stream.id).toBe(first.stream.id);
    expect(fresh.created).toBe(true);
    expect(await db.prisma.message.count({ where: { threadId: keyed } })).toBe(2);
    expect(await db.prisma.message.count({ where: { threadId: other } })).toBe(2);
  });

  it('a batch Postgres aborts as a deadlock is written again turn by turn, and every turn is stored', async () => {
    const threads = await threadsOf('deadlock-user', 3);
    let aborted = 0;
    // The first batched statement is aborted as Postgres aborts one of two deadlocked statements.
    const sql = {
      ...db.sql,
      query: <T>(statement: Parameters<typeof db.sql.query>[0]) =>
        aborted === 0 && statement.text.includes('WITH wanted')
          ? (aborted++, Promise.reject(Object.assign(new Error('deadlock detected'), { code: '40P01' })))
          : db.sql.query<T>(statement),
    };
    const deadlocked = new MessageStore(db.prisma, sql);
    const turns = await Promise.all(threads.map((t, i) => deadlocked.createTurn(turn('deadlock-user', t, `retried ${i}`))));
    expect(aborted).toBe(1);
    expect(turns.every((t) => t.created)).toBe(true);
    expect(await db.prisma.stream.count({ where: { threadId: { in: threads } } })).toBe(3);
  });
});
