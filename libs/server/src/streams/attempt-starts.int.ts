import { countingDatabase, preparedText } from '../../../../test/support/counters';
import { createTestDatabase, type TestDatabase } from '../../../../test/support/database';
import { seedStream } from '../../../../test/support/seed';
import { AttemptStarts } from './attempt-starts';

/** Attempt starts against real Postgres: a burst is one statement, and each stream gets its own history. */
describe('AttemptStarts', () => {
  let testDb: TestDatabase;
  let db: ReturnType<typeof countingDatabase>;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = countingDatabase(testDb.url);
  });
  afterAll(async () => {
    await db.close();
    await testDb.drop();
  });

  it('starts a burst of attempts in one statement, each with its own conversation, oldest first', async () => {
    const streams = [];
    for (let i = 0; i < 20; i++) streams.push(await seedStream(db.prisma, `question ${i}`));
    // An earlier exchange on the first thread, and an empty message the provider must not see.
    const [first] = streams;
    await db.prisma.message.createMany({
      data: [
        { id: crypto.randomUUID(), threadId: first.threadId, role: 'user', content: 'earlier question', status: 'complete', createdAt: new Date(Date.now() - 60_000) },
        { id: crypto.randomUUID(), threadId: first.threadId, role: 'assistant', content: 'earlier answer', status: 'complete', createdAt: new Date(Date.now() - 50_000) },
        { id: crypto.randomUUID(), threadId: first.threadId, role: 'assistant', content: '', status: 'failed', createdAt: new Date(Date.now() - 40_000) },
      ],
    });
    const starts = new AttemptStarts(db.sql);
    const before = db.statements();
    const results = await Promise.all(streams.map((s, i) => starts.start(s.streamId, i + 1)));
    expect(db.statements() - before).toBe(1);
    expect(results[0]).toEqual({ kind: 'started', history: [
      { role: 'user', content: 'earlier question' },
      { role: 'assistant', content: 'earlier answer' },
      { role: 'user', content: 'question 0' },
    ] });
    results.slice(1).forEach((r, i) => expect(r).toEqual({ kind: 'started', history: [{ role: 'user', content: `question ${i + 1}` }] }));
    const rows = await db.prisma.stream.findMany({ where: { id: { in: streams.map((s) => s.streamId) } }, select: { id: true, status: true, attempt: true } });
    for (const [i, s] of streams.entries()) expect(rows.find((r) => r.id === s.streamId)).toMatchObject({ status: 'streaming', attempt: i + 1 });
  });

  it('does not start an ended stream, and tells it apart from one that is gone', async () => {
    const ended = await seedStream(db.prisma, 'already answered');
    await db.prisma.stream.update({ where: { id: ended.streamId }, data: { status: 'cancelled', endedAt: new Date() } });
    const starts = new AttemptStarts(db.sql);
    const [a, b] = await Promise.all([starts.start(ended.streamId, 2), starts.start('00000000-0000-4000-8000-000000000000', 1)]);
    expect([a, b]).toEqual([{ kind: 'ended' }, { kind: 'gone' }]);
    expect((await db.prisma.stream.findUniqueOrThrow({ where: { id: ended.streamId } })).status).toBe('cancelled');
  });

  it('sends one prepared statement whatever the batch size (planned once per connection, not per batch)', async () => {
    const starts = new AttemptStarts(db.sql);
    const streams = await Promise.all([1, 2, 3].map((i) => seedStream(db.prisma, `prepared ${i}`)));
    const before = db.sent().length;
    await starts.start(streams[0].streamId, 1);
    await Promise.all(streams.slice(1).map((s) => starts.start(s.streamId, 1)));
    const sent = db.sent().slice(before);
    expect(sent.map((s) => s.name)).toEqual(['attempt-starts', 'attempt-starts']);
    expect(preparedText(sent, 'attempt-starts')).toContain('unnest');
  });
});
