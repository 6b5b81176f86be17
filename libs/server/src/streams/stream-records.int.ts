import { countingDatabase, preparedText } from '../../../../test/support/counters';
import { createTestDatabase, type TestDatabase } from '../../../../test/support/database';
import { seedStream } from '../../../../test/support/seed';
import { StreamRecords } from './stream-records';

/**
 * Checkpoints and stream ends written together, against real Postgres: the streams that end at once
 * share one statement, and each ends as it would alone (its own status and content, its
 * thread free again), a superseded attempt's end is ignored, and of two ends of one
 * stream only the first counts.
 */
describe('StreamRecords checkpoints and ends in a burst', () => {
  let testDb: TestDatabase;
  let db: ReturnType<typeof countingDatabase>;
  let records: StreamRecords;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = countingDatabase(testDb.url);
    records = new StreamRecords(db.sql);
  });
  afterAll(async () => {
    await db.close();
    await testDb.drop();
  });

  /** `n` streams running their first attempt. */
  async function running(n: number) {
    const jobs = [];
    for (let i = 0; i < n; i++) jobs.push(await seedStream(db.prisma, `question ${i}`));
    await Promise.all(jobs.map((j) => records.startAttempt(j.streamId, 1)));
    return jobs;
  }

  it('sends ends and checkpoints as prepared statements whose text no batch size changes', async () => {
    const [alone, ...pair] = await running(3);
    const from = db.sent().length;
    await records.checkpoint(alone.messageId, 'one', 1, 1);
    await Promise.all(pair.map((j) => records.checkpoint(j.messageId, 'two', 1, 1)));
    await records.finish(alone.streamId, { status: 'completed', content: 'one', attempt: 1, seq: 1 });
    await Promise.all(pair.map((j) => records.finish(j.streamId, { status: 'cancelled', content: 'two', attempt: 1, seq: 1 })));
    const sent = db.sent().slice(from);
    expect(sent.map((st) => st.name)).toEqual(['checkpoints', 'checkpoints', 'stream-ends', 'stream-ends']);
    preparedText(sent, 'checkpoints');
    preparedText(sent, 'stream-ends');
  });

  it('ends 40 streams that end at once with one statement, each with its own status and content', async () => {
    const jobs = await running(40);
    const before = db.statements();
    const ended = await Promise.all(
      jobs.map((j, i) =>
        records.finish(j.streamId, i % 2 === 0
          ? { status: 'completed', content: `answer ${i}`, attempt: 1, seq: 7 }
          : { status: 'failed', content: `partial ${i}`, attempt: 1, seq: 3, error: { code: 'provider_error', message: `broke ${i}` } }),
      ),
    );
    expect(db.statements() - before).toBe(1);
    for (const [i, j] of jobs.entries()) {
      const done = ended[i];
      expect(done?.stream).toEqual(expect.objectContaining({ id: j.streamId, status: i % 2 === 0 ? 'completed' : 'failed', seq: i % 2 === 0 ? 7 : 3 }));
      expect(done?.message).toEqual(expect.objectContaining({ id: j.messageId, content: i % 2 === 0 ? `answer ${i}` : `partial ${i}`, status: i % 2 === 0 ? 'complete' : 'failed' }));
      if (i % 2 === 1) expect(done?.stream).toEqual(expect.objectContaining({ errorCode: 'provider_error', errorMessage: `broke ${i}` }));
    }
    const stored = await db.prisma.message.findMany({ where: { id: { in: jobs.map((j) => j.messageId) } } });
    expect(Object.fromEntries(stored.map((m) => [m.id, m.content]))).toEqual(Object.fromEntries(jobs.map((j, i) => [j.messageId, i % 2 === 0 ? `answer ${i}` : `partial ${i}`])));
    const threads = await db.prisma.thread.findMany({ where: { id: { in: jobs.map((j) => j.threadId) } }, select: { activeStreamId: true } });
    expect(threads.every((t) => t.activeStreamId === null)).toBe(true);
  });

  it('saves the checkpoints of 30 running streams with one statement; a stale, a repeated or a final one is not written', async () => {
    const jobs = await running(30);
    const before = db.statements();
    const saved = await Promise.all(jobs.map((j, i) => records.checkpoint(j.messageId, `so far ${i}`, 1, 10)));
    expect(db.statements() - before).toBe(1);
    expect(saved.every(Boolean)).toBe(true);
    const [stale, twice, ended] = jobs;
    await records.finish(ended.streamId, { status: 'completed', content: 'final', attempt: 1, seq: 20 });
    const [older, newer, earlier, afterEnd] = await Promise.all([
      records.checkpoint(stale.messageId, 'older frame', 1, 5),
      records.checkpoint(twice.messageId, 'frame 12', 1, 12),
      records.checkpoint(twice.messageId, 'frame 11', 1, 11),
      records.checkpoint(ended.messageId, 'after the end', 1, 30),
    ]);
    expect([older, newer, earlier, afterEnd]).toEqual([false, true, false, false]);
    const contents = await db.prisma.message.findMany({ where: { id: { in: [stale.messageId, twice.messageId, ended.messageId] } } });
    expect(Object.fromEntries(contents.map((m) => [m.id, m.content]))).toEqual({
      [stale.messageId]: 'so far 0',
      [twice.messageId]: 'frame 12',
      [ended.messageId]: 'final',
    });
  });

  it('in one batch: a superseded attempt is ignored, a stream ended twice ends once, an ended stream stays as it was', async () => {
    const [superseded, twice, over] = await running(3);
    await records.finish(over.streamId, { status: 'cancelled', content: 'stopped', attempt: 1, seq: 2 });
    const [stale, first, second, late] = await Promise.all([
      records.finish(superseded.streamId, { status: 'completed', content: 'old attempt', attempt: 0, seq: 9 }),
      records.finish(twice.streamId, { status: 'cancelled', content: 'cut short', attempt: 1, seq: 4 }),
      records.finish(twice.streamId, { status: 'completed', content: 'whole answer', attempt: 1, seq: 8 }),
      records.finish(over.streamId, { status: 'completed', content: 'too late', attempt: 1, seq: 5 }),
    ]);
    expect(stale).toBeNull();
    expect(first?.stream.status).toBe('cancelled');
    expect(second).toBeNull();
    expect(late).toBeNull();
    const messages = await db.prisma.message.findMany({ where: { id: { in: [superseded.messageId, twice.messageId, over.messageId] } } });
    const byId = Object.fromEntries(messages.map((m) => [m.id, { content: m.content, status: m.status }]));
    expect(byId[superseded.messageId]).toEqual({ content: '', status: 'streaming' });
    expect(byId[twice.messageId]).toEqual({ content: 'cut short', status: 'cancelled' });
    expect(byId[over.messageId]).toEqual({ content: 'stopped', status: 'cancelled' });
  });
});
