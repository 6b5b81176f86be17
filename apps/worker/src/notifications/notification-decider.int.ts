import { randomBytes } from 'node:crypto';
import type { Notification } from '@bgs/shared';
import { closeRedis, createLogger, createRedis, PresenceStore, redisKeys, type RedisClient } from '@bgs/server';
import { countingDatabase, preparedText } from '../../../../test/support/counters';
import { createTestDatabase, type TestDatabase } from '../../../../test/support/database';
import { testRedisTarget } from '../../../../test/support/redis-target';
import { seedStream } from '../../../../test/support/seed';
import { NotificationDecider, type NotificationPusher } from './notification-decider';
import type { LostStreamReaper } from './lost-stream-reaper';
import { StreamSweep } from './stream-sweep';

/**
 * Decisions in batches, counted against real Postgres and Redis: a burst of completions
 * costs the same few statements whether it is 10 streams or 100, racing deciders still
 * notify each stream once, and a push that did not happen is made by the sweep.
 */
describe('NotificationDecider batches', () => {
  let testDb: TestDatabase;
  let db: ReturnType<typeof countingDatabase>;
  let redis: RedisClient;
  const keys = redisKeys(`n${randomBytes(4).toString('hex')}`);
  const pushed: Notification[] = [];
  const recording: NotificationPusher = { push: async (_u, n) => (pushed.push(n), true) };
  let decider: NotificationDecider;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = countingDatabase(testDb.url);
    redis = createRedis(testRedisTarget(), { name: 'decider-test', enableAutoPipelining: true });
    decider = new NotificationDecider(db.sql, new PresenceStore(redis, keys, 10_000), recording, createLogger('test', 'silent'));
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

  async function statementsFor(ids: string[], by = decider) {
    const before = db.statements();
    const results = await by.decideMany(ids);
    return { statements: db.statements() - before, results };
  }

  /** `pushed_at` of the notifications of these streams, by stream id. */
  async function pushedAt(streamIds: string[]): Promise<Record<string, Date | null>> {
    const rows = await db.prisma.notification.findMany({ where: { streamId: { in: streamIds } }, select: { streamId: true, pushedAt: true } });
    return Object.fromEntries(rows.map((r) => [r.streamId, r.pushedAt]));
  }

  /** The worker's sweep over this database, its reaper idle; `decideAfterMs` 0: everything is due. */
  function sweepWith(by: NotificationDecider) {
    const reaper = { reapActive: async () => 0 } as unknown as LostStreamReaper;
    return new StreamSweep(db.sql, by, reaper, { intervalMs: 60_000, decideAfterMs: 0, reapAfterMs: 60_000 }, createLogger('test', 'silent'));
  }

  it('decides 10 or 100 ended streams in the same three statements, one notification each, marked pushed', async () => {
    const small = await ended(10);
    const large = await ended(100);
    const a = await statementsFor(small);
    const b = await statementsFor(large);
    console.info(`notification decisions: ${a.statements} statements for 10 streams, ${b.statements} for 100`);
    // One read of the streams with their threads and answers, one claim + insert, one mark of the pushed.
    expect([a.statements, b.statements]).toEqual([3, 3]);
    expect([...b.results.values()].every((r) => r === 'notified')).toBe(true);
    const notes = await db.prisma.notification.findMany({ where: { streamId: { in: large } } });
    expect(notes).toHaveLength(100);
    expect(new Set(notes.map((n) => n.type))).toEqual(new Set(['ai.message.received']));
    expect(pushed.filter((n) => large.includes(n.streamId)).map((n) => n.streamId).sort()).toEqual([...large].sort());
    expect(notes.every((n) => n.pushedAt !== null && n.pushedAt >= n.createdAt)).toBe(true);
    // Asked again (a replayed event, the sweep): already decided, one read, nothing written.
    const again = await statementsFor(large);
    expect(again.statements).toBe(1);
    expect(new Set(again.results.values())).toEqual(new Set(['already-decided']));
  });

  it('reads and claims with prepared statements whose text no batch size changes', async () => {
    const from = db.sent().length;
    await decider.decideMany(await ended(1));
    await decider.decideMany(await ended(3));
    const sent = db.sent().slice(from).filter((st) => st.name);
    expect(sent.map((st) => st.name)).toEqual(['notification-reads', 'notification-claims', 'notification-reads', 'notification-claims']);
    preparedText(sent, 'notification-reads');
    preparedText(sent, 'notification-claims');
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
    const other = new NotificationDecider(db.sql, new PresenceStore(redis, keys, 10_000), { push: async () => true }, createLogger('test', 'silent'));
    const [a, b] = await Promise.all([decider.decideMany(ids), other.decideMany([...ids].reverse())]);
    for (const id of ids) expect([a.get(id), b.get(id)].sort()).toEqual(['already-decided', 'notified']);
    expect(await db.prisma.notification.count({ where: { streamId: { in: ids } } })).toBe(40);
  });
  it('a batch that creates no notification pushes nothing and marks nothing: two statements', async () => {
    const ids = await ended(5, 'cancelled');
    const before = pushed.length;
    const { statements, results } = await statementsFor(ids);
    expect(new Set(results.values())).toEqual(new Set(['skipped']));
    expect([statements, pushed.length - before]).toEqual([2, 0]);
  });

  it('a push that fails leaves pushed_at null; the sweep pushes it exactly once and marks it', async () => {
    const [lost, refused, fine] = await ended(3);
    // Redis refuses one push (false) and the connection breaks under another (rejects).
    const flaky: NotificationPusher = {
      push: async (_u, n) => {
        if (n.streamId === refused) return false;
        if (n.streamId === lost) throw new Error('connection lost');
        return true;
      },
    };
    const listener = new NotificationDecider(db.sql, new PresenceStore(redis, keys, 10_000), flaky, createLogger('test', 'silent'));
    const { results, statements } = await statementsFor([lost, refused, fine], listener);
    expect(new Set(results.values())).toEqual(new Set(['notified']));
    expect(statements).toBe(3); // the mark covers the one push that was accepted
    const marks = await pushedAt([lost, refused, fine]);
    expect([marks[lost], marks[refused], marks[fine] instanceof Date]).toEqual([null, null, true]);

    // Not yet due (the listener that created them may be about to push): left alone.
    expect(await decider.pushUnpushed(60_000)).toBe(0);
    const before = pushed.length;
    await sweepWith(decider).runOnce();
    const repushed = pushed.slice(before);
    expect(repushed.map((n) => n.streamId).sort()).toEqual([lost, refused].sort());
    const again = await pushedAt([lost, refused]);
    expect(Object.values(again).every((d) => d instanceof Date)).toBe(true);
    // Marked: the next pass pushes nothing.
    await sweepWith(decider).runOnce();
    expect(pushed.length - before).toBe(2);
  });

  it('the sweep re-pushes a batch in four statements (begin, claim, mark, commit), and has three when nothing is due', async () => {
    const ids = await ended(30);
    const down: NotificationPusher = { push: async () => false };
    await new NotificationDecider(db.sql, new PresenceStore(redis, keys, 10_000), down, createLogger('test', 'silent')).decideMany(ids);
    const before = { statements: db.statements(), pushes: pushed.length };
    expect(await decider.pushUnpushed(0)).toBe(30);
    const busy = db.statements() - before.statements;
    const idleFrom = db.statements();
    expect(await decider.pushUnpushed(0)).toBe(0);
    const idle = db.statements() - idleFrom;
    console.info(`sweep re-push: ${busy} statements for 30 notifications, ${idle} when none is due`);
    expect([busy, idle]).toEqual([4, 3]);
    expect(pushed.slice(before.pushes).map((n) => n.streamId).sort()).toEqual([...ids].sort());
  });

  it('two sweeps racing over the same unpushed notifications push each exactly once', async () => {
    const ids = await ended(40);
    await new NotificationDecider(db.sql, new PresenceStore(redis, keys, 10_000), { push: async () => false }, createLogger('test', 'silent')).decideMany(ids);
    const byA: Notification[] = [];
    const byB: Notification[] = [];
    // Pushes that take a moment, so the second sweep runs while the first holds its rows.
    const slow = (into: Notification[]): NotificationPusher => ({ push: (_u, n) => new Promise((r) => setTimeout(() => r((into.push(n), true)), 20)) });
    const a = new NotificationDecider(db.sql, new PresenceStore(redis, keys, 10_000), slow(byA), createLogger('test', 'silent'));
    const b = new NotificationDecider(db.sql, new PresenceStore(redis, keys, 10_000), slow(byB), createLogger('test', 'silent'));
    await Promise.all([sweepWith(a).runOnce(), sweepWith(b).runOnce()]);
    const all = [...byA, ...byB].filter((n) => ids.includes(n.streamId));
    expect(all.map((n) => n.streamId).sort()).toEqual([...ids].sort());
    expect(Object.values(await pushedAt(ids)).every((d) => d instanceof Date)).toBe(true);
  });
});
