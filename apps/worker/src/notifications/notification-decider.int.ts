import { randomBytes } from 'node:crypto';
import type { Notification } from '@bgs/shared';
import { closeRedis, createLogger, createRedis, PresenceStore, redisKeys, type Redis } from '@bgs/server';
import { countingDatabase } from '../../../../test/support/counters';
import { createTestDatabase, type TestDatabase } from '../../../../test/support/database';
import { testEnv } from '../../../../test/support/env';
import { seedStream } from '../../../../test/support/seed';
import { NotificationDecider } from './notification-decider';

/**
 * Decisions in batches, counted against real Postgres and Redis: a burst of completions
 * costs the same few statements whether it is 10 streams or 100, and racing deciders
 * still notify each stream once.
 */
describe('NotificationDecider batches', () => {
  let testDb: TestDatabase;
  let db: ReturnType<typeof countingDatabase>;
  let redis: Redis;
  const keys = redisKeys(`n${randomBytes(4).toString('hex')}`);
  const pushed: Notification[] = [];
  let decider: NotificationDecider;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = countingDatabase(testDb.url);
    redis = createRedis(testEnv().redisUrl, { name: 'decider-test', enableAutoPipelining: true });
    decider = new NotificationDecider(db.prisma, new PresenceStore(redis, keys, 10_000), { push: (_u, n) => pushed.push(n) }, createLogger('test', 'silent'));
  });
  afterAll(async () => {
    await closeRedis(redis);
    await db.close();
    await testDb.drop();
  });

  /** `n` streams that ended as `status`, as the worker leaves them. */
  async function ended(n: number, status: 'completed' | 'failed' | 'cancelled' = 'completed') {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const s = await seedStream(db.prisma, `question ${i}`);
      await db.prisma.message.update({ where: { id: s.messageId }, data: { content: `answer ${i}`, status: status === 'completed' ? 'complete' : status } });
      await db.prisma.stream.update({ where: { id: s.streamId }, data: { status, endedAt: new Date(), ...(status === 'failed' ? { errorCode: 'x', errorMessage: 'It broke' } : {}) } });
      ids.push(s.streamId);
    }
    return ids;
  }

  async function statementsFor(ids: string[]) {
    const before = db.statements();
    const results = await decider.decideMany(ids);
    return { statements: db.statements() - before, results };
  }

  it('decides 10 or 100 ended streams in the same two statements, one notification each', async () => {
    const small = await ended(10);
    const large = await ended(100);
    const a = await statementsFor(small);
    const b = await statementsFor(large);
    console.info(`notification decisions: ${a.statements} statements for 10 streams, ${b.statements} for 100`);
    // One read of the streams with their threads and answers, one claim + insert.
    expect([a.statements, b.statements]).toEqual([2, 2]);
    expect([...b.results.values()].every((r) => r === 'notified')).toBe(true);
    const notes = await db.prisma.notification.findMany({ where: { streamId: { in: large } } });
    expect(notes).toHaveLength(100);
    expect(new Set(notes.map((n) => n.type))).toEqual(new Set(['ai.message.received']));
    expect(pushed.filter((n) => large.includes(n.streamId)).map((n) => n.streamId).sort()).toEqual([...large].sort());
    // Asked again (a replayed event, the sweep): already decided, one read, nothing written.
    const again = await statementsFor(large);
    expect(again.statements).toBe(1);
    expect(new Set(again.results.values())).toEqual(new Set(['already-decided']));
  });

  it('applies the table per stream inside a batch: open, muted, failed, cancelled, not ended, gone', async () => {
    const [open, muted, failedMuted, cancelled] = [...(await ended(2)), ...(await ended(1, 'failed')), ...(await ended(1, 'cancelled'))];
    const running = (await seedStream(db.prisma, 'still running')).streamId;
    const openThread = (await db.prisma.stream.findUniqueOrThrow({ where: { id: open } })).threadId;
    await new PresenceStore(redis, keys, 10_000).open(openThread, 'a-tab');
    for (const id of [muted, failedMuted]) {
      const { threadId } = await db.prisma.stream.findUniqueOrThrow({ where: { id } });
      await db.prisma.thread.update({ where: { id: threadId }, data: { muted: true } });
    }
    const gone = '00000000-0000-4000-8000-000000000000';
    const { results } = await statementsFor([open, muted, failedMuted, cancelled, running, gone]);
    expect(Object.fromEntries(results)).toEqual({ [open]: 'skipped', [muted]: 'skipped', [failedMuted]: 'notified', [cancelled]: 'skipped', [running]: 'not-ended', [gone]: 'gone' });
    const decisions = await db.prisma.stream.findMany({ where: { id: { in: [open, muted, failedMuted, cancelled] } }, select: { id: true, notificationDecision: true } });
    expect(Object.fromEntries(decisions.map((d) => [d.id, d.notificationDecision]))).toEqual({
      [open]: 'skipped_open', [muted]: 'skipped_muted', [failedMuted]: 'notified', [cancelled]: 'skipped_cancelled',
    });
    const warning = await db.prisma.notification.findUniqueOrThrow({ where: { streamId: failedMuted } });
    expect([warning.type, warning.body]).toEqual(['system.warning', 'The answer could not be completed: It broke']);
  });

  it('two deciders racing over the same batch notify each stream exactly once', async () => {
    const ids = await ended(40);
    const other = new NotificationDecider(db.prisma, new PresenceStore(redis, keys, 10_000), { push: () => undefined }, createLogger('test', 'silent'));
    const [a, b] = await Promise.all([decider.decideMany(ids), other.decideMany([...ids].reverse())]);
    for (const id of ids) expect([a.get(id), b.get(id)].sort()).toEqual(['already-decided', 'notified']);
    expect(await db.prisma.notification.count({ where: { streamId: { in: ids } } })).toBe(40);
  });
});
