import { randomBytes, randomUUID } from 'node:crypto';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { Client } from 'pg';
import { GENERATION_QUEUE, type Notification } from '@bgs/shared';
import { bullConnection, closeRedis, createLogger, createRedis, PresenceStore, redisKeys, type BullConnection, type RedisClient } from '@bgs/server';
import { CompletionListener } from '../../apps/worker/src/notifications/completion-listener';
import type { LostStreamReaper } from '../../apps/worker/src/notifications/lost-stream-reaper';
import type { DecideResult, NotificationDecider } from '../../apps/worker/src/notifications/notification-decider';
import { testRedisTarget } from '../support/redis-target';
import { eventually, type HttpClient } from '../support/http';
import type { LogLine, ManagedProcess } from '../support/processes';
import { connectSocket, type TestSocket } from '../support/sockets';
import { TestSystem } from '../support/system';

const hex = () => randomBytes(4).toString('hex');
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PresenceStore against Redis', () => {
  let redis: RedisClient;
  const keys = redisKeys(`p${hex()}`);

  beforeAll(() => {
    redis = createRedis(testRedisTarget(), { name: 'presence-test' });
  });
  afterAll(async () => {
    await closeRedis(redis);
  });

  it('a thread is open while at least one socket has it open', async () => {
    const store = new PresenceStore(redis, keys, 30_000);
    const thread = randomUUID();
    expect(await store.isOpen(thread)).toBe(false);
    await store.open(thread, 'tab-1');
    await store.open(thread, 'tab-2');
    await store.close(thread, 'tab-1');
    expect(await store.isOpen(thread)).toBe(true);
    await store.close(thread, 'tab-2');
    expect(await store.isOpen(thread)).toBe(false);
  });

  it('an entry nobody refreshes expires by itself, and its key with it', async () => {
    const store = new PresenceStore(redis, keys, 300);
    const thread = randomUUID();
    await store.open(thread, 'tab-of-a-dead-instance');
    expect(await store.isOpen(thread)).toBe(true);
    await eventually(async () => ((await store.isOpen(thread)) ? undefined : true), 'the entry to expire', 3_000);
    await eventually(async () => ((await redis.exists(keys.presence(thread))) === 0 ? true : undefined), 'the key to expire', 3_000);
  });

  it('heartbeats keep an entry open for longer than its TTL', async () => {
    const store = new PresenceStore(redis, keys, 300);
    const thread = randomUUID();
    await store.open(thread, 'tab');
    // Heartbeat every third of the TTL, as an API instance does, for three TTLs.
    for (let i = 0; i < 9; i++) {
      await pause(100);
      await store.refresh([{ threadId: thread, socketId: 'tab' }]);
      expect(await store.isOpen(thread)).toBe(true);
    }
  });

  it('a late heartbeat does not revive a closed entry', async () => {
    const store = new PresenceStore(redis, keys, 30_000);
    const thread = randomUUID();
    await store.open(thread, 'tab-1');
    await store.open(thread, 'tab-2');
    await store.close(thread, 'tab-1');
    // A heartbeat that listed tab-1 before its close landed after it.
    await store.refresh([{ threadId: thread, socketId: 'tab-1' }, { threadId: thread, socketId: 'tab-2' }]);
    expect(await redis.zscore(keys.presence(thread), 'tab-1')).toBeNull();
    await store.close(thread, 'tab-2');
    await store.refresh([{ threadId: thread, socketId: 'tab-2' }]);
    expect(await store.isOpen(thread)).toBe(false);
  });

  it('a heartbeat after the key expired does not bring the entry back', async () => {
    const store = new PresenceStore(redis, keys, 300);
    const thread = randomUUID();
    await store.open(thread, 'tab');
    await eventually(async () => ((await redis.exists(keys.presence(thread))) === 0 ? true : undefined), 'the key to expire', 3_000);
    await store.refresh([{ threadId: thread, socketId: 'tab' }]);
    expect(await store.isOpen(thread)).toBe(false);
  });

  it('an instance with a shorter TTL does not cut short the entries of one with a longer TTL', async () => {
    const long = new PresenceStore(redis, keys, 30_000);
    const short = new PresenceStore(redis, keys, 300);
    const thread = randomUUID();
    await long.open(thread, 'tab-on-a');
    await short.open(thread, 'tab-on-b');
    await short.refresh([{ threadId: thread, socketId: 'tab-on-b' }]);
    expect(await redis.pttl(keys.presence(thread))).toBeGreaterThan(29_000);
    await eventually(async () => {
      const [seconds, micros] = await redis.time();
      return Number(await redis.zscore(keys.presence(thread), 'tab-on-b')) <= Number(seconds) * 1000 + Number(micros) / 1000 ? true : undefined;
    }, 'the short entry to expire', 3_000);
    expect(await short.isOpen(thread)).toBe(true);
    await long.close(thread, 'tab-on-a');
    expect(await short.isOpen(thread)).toBe(false);
  });
});

/** Records what the listener asks of the decider; `results` scripts its answers per stream. */
class RecordingDecider {
  readonly calls: string[] = [];
  readonly results = new Map<string, DecideResult[]>();
  private waiters: Array<() => void> = [];

  /** Each batch the listener asked for, in order. */
  readonly batches: string[][] = [];

  async decide(streamId: string): Promise<DecideResult> {
    this.calls.push(streamId);
    for (const wake of this.waiters.splice(0)) wake();
    return this.results.get(streamId)?.shift() ?? 'notified';
  }

  async decideMany(streamIds: string[]): Promise<Map<string, DecideResult>> {
    this.batches.push([...streamIds]);
    const results = new Map<string, DecideResult>();
    for (const id of streamIds) results.set(id, await this.decide(id));
    return results;
  }

  async until(streamIds: string[], what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!streamIds.every((id) => this.calls.includes(id))) {
      if (Date.now() > deadline) throw new Error(`listener never decided ${what}; decided ${JSON.stringify(this.calls)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200).unref();
      });
    }
  }

  count(streamId: string): number {
    return this.calls.filter((id) => id === streamId).length;
  }
}

/** The listener in this process, on a real BullMQ queue and worker, with the decider replaced. */
describe('CompletionListener against a real queue', () => {
  const keys = redisKeys(`l${hex()}`);
  const logger = createLogger('test', 'silent');
  let redis: RedisClient;
  let queue: Queue;
  let worker: Worker;
  let bull: BullConnection[] = [];
  const finished = new Set<string>();

  beforeAll(async () => {
    redis = createRedis(testRedisTarget(), { name: 'listener-test' });
    bull = [bullConnection(testRedisTarget()), bullConnection(testRedisTarget())];
    queue = new Queue(GENERATION_QUEUE, { connection: bull[0].connection, prefix: keys.bullPrefix });
    worker = new Worker(
      GENERATION_QUEUE,
      async (job) => {
        if (job.data.fail === 'once' && job.attemptsMade === 0) throw new Error('transient');
        if (job.data.fail === 'always') throw new UnrecoverableError('the job failed without ending its stream');
        return { status: 'completed' };
      },
      { connection: bull[1].connection, prefix: keys.bullPrefix, concurrency: 10 },
    );
    worker.on('completed', (job) => finished.add(job.id as string));
    await worker.waitUntilReady();
  });
  afterAll(async () => {
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
    for (const b of bull) await b.close();
    await redis.del(keys.listenerCursor);
    await closeRedis(redis);
  });

  function listenerWith(decider: RecordingDecider, reaper: Pick<LostStreamReaper, 'failLostStream'>) {
    return new CompletionListener({
      redis: testRedisTarget(),
      cursor: redis,
      keys,
      decider: decider as unknown as NotificationDecider,
      reaper: reaper as LostStreamReaper,
      logger,
    });
  }

  const noReaper = { failLostStream: async () => undefined };

  it('resumes after the last event it handled: jobs that ended while it was down are decided when it starts, once each', async () => {
    const decider = new RecordingDecider();
    // This queue's event stream is new: read it from its start, so no event races the first read.
    await redis.set(keys.listenerCursor, '0-0');
    const first = listenerWith(decider, noReaper);
    await first.start();
    const before = randomUUID();
    await queue.add('generate', {}, { jobId: before });
    await decider.until([before], 'the job that ended while it ran');
    await first.close();

    const whileDown = [randomUUID(), randomUUID(), randomUUID()];
    for (const id of whileDown) await queue.add('generate', {}, { jobId: id });
    await eventually(async () => (whileDown.every((id) => finished.has(id)) ? true : undefined), 'the jobs to finish while no listener runs');
    expect(decider.calls).toEqual([before]);

    const second = listenerWith(decider, noReaper);
    await second.start();
    try {
      await decider.until(whileDown, 'the jobs that ended while it was down');
      const after = randomUUID();
      await queue.add('generate', {}, { jobId: after });
      await decider.until([after], 'a job that ended after it started');
      expect(decider.calls).toEqual([before, ...whileDown, after]);
    } finally {
      await second.close();
    }
  });

  it('decides final outcomes only: a retried attempt is no outcome; a job that failed without ending its stream is reaped first', async () => {
    const decider = new RecordingDecider();
    const reaped: Array<[string, string]> = [];
    const listener = listenerWith(decider, { failLostStream: async (id: string, reason: string) => void reaped.push([id, reason]) });
    await listener.start();
    try {
      const [retried, lost, barrier] = [randomUUID(), randomUUID(), randomUUID()];
      decider.results.set(lost, ['not-ended', 'notified']);
      await queue.add('generate', { fail: 'once' }, { jobId: retried, attempts: 2 });
      await queue.add('generate', { fail: 'always' }, { jobId: lost, attempts: 3 });
      await decider.until([retried, lost], 'both jobs');
      // Events are handled one at a time, in order: once a later job is decided, every earlier event was handled.
      await eventually(async () => (finished.has(retried) ? true : undefined), 'the retried job');
      await queue.add('generate', {}, { jobId: barrier });
      await decider.until([barrier], 'the barrier job');
      expect(decider.count(retried)).toBe(1);
      expect(decider.count(lost)).toBe(2);
      expect(reaped).toEqual([[lost, 'the job failed without ending its stream']]);
    } finally {
      await listener.close();
    }
  });
});

/** What the user's notification badge receives: `notification.created` in the user's room. */
class Inbox {
  readonly received: Notification[] = [];
  private waiters: Array<() => void> = [];

  constructor(socket: TestSocket) {
    socket.on('notification.created', (n) => {
      this.received.push(n);
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  of(streamIds: Set<string>): Notification[] {
    return this.received.filter((n) => streamIds.has(n.streamId));
  }

  /** Resolves once `count` pushes for `streamIds` have arrived (event-driven, no polling). */
  async until(streamIds: Set<string>, count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.of(streamIds).length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`only ${this.of(streamIds).length} of ${count} notifications arrived`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, left).unref();
      });
    }
  }
}

/**
 * Real processes: one generating worker and listener-only workers (WORKER_ROLE=listener),
 * so listeners can be multiplied, stopped and restarted while generations go on.
 */
describe('completion listener processes', () => {
  const SWEEP_INTERVAL_MS = 1_000;
  let system: TestSystem;
  let pg: Client;
  let redis: RedisClient;
  let api: HttpClient & { token: string };
  let socket: TestSocket;
  let inbox: Inbox;
  let listeners: ManagedProcess[] = [];
  const allStreams = new Set<string>();

  beforeAll(async () => {
    system = await TestSystem.start({
      workers: 0,
      env: { SWEEP_INTERVAL_MS: String(SWEEP_INTERVAL_MS), RATE_LIMIT_SENDS: '100000', FRAME_MS: '50' },
    });
    await system.addWorker({ WORKER_ROLE: 'generator' });
    pg = new Client({ connectionString: system.db.url });
    await pg.connect();
    redis = createRedis(testRedisTarget(), { name: 'listener-processes-test' });
    api = await system.client('crowd');
    socket = await connectSocket(system.url(), api.token);
    inbox = new Inbox(socket);
  }, 60_000);
  afterAll(async () => {
    socket?.disconnect();
    await pg?.end();
    if (redis) await closeRedis(redis);
    await system?.stop();
  });

  const startListener = () => system.addWorker({ WORKER_ROLE: 'listener' });

  async function inBatches<T, R>(items: T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
    const out: R[] = [];
    for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
    return out;
  }

  /** `n` threads nobody has open, one short generation in each; returns the stream ids. */
  async function generate(n: number, label: string): Promise<Set<string>> {
    // Ten requests at a time: a chat app's burst, not a load test of the API's connection pool.
    const threads = await inBatches(Array.from({ length: n }, (_, i) => i), 10, async (i) => {
      const res = await api.post('/api/threads', { title: `${label} ${i}` });
      expect(res.status).toBe(201);
      return res.body.id as string;
    });
    const streams = await inBatches(threads, 10, async (threadId) => {
      const res = await api.post(`/api/threads/${threadId}/messages`, { content: `${label} ${threadId} [sim tokens=5 rate=500]` });
      expect(res.status).toBe(202);
      return res.body.stream.id as string;
    });
    for (const id of streams) allStreams.add(id);
    return new Set(streams);
  }

  async function countWhere(streams: Set<string>, condition: string): Promise<number> {
    const { rows } = await pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM streams WHERE id = ANY($1::uuid[]) AND ${condition}`, [[...streams]]);
    return rows[0].n;
  }

  async function notificationRows(streams: Set<string>): Promise<{ total: number; distinct: number }> {
    const { rows } = await pg.query<{ total: number; distinct: number }>(
      'SELECT count(*)::int AS total, count(DISTINCT stream_id)::int AS distinct FROM notifications WHERE stream_id = ANY($1::uuid[])',
      [[...streams]],
    );
    return rows[0];
  }

  /**
   * Waits until every stream has its decision in Postgres and its push has arrived,
   * then one more sweep interval, so a late duplicate from any listener or sweep
   * would have arrived too.
   */
  async function settled(streams: Set<string>, timeoutMs: number): Promise<void> {
    await eventually(async () => ((await countWhere(streams, 'notification_decision IS NOT NULL')) === streams.size ? true : undefined), 'every decision', timeoutMs, 100);
    await inbox.until(streams, streams.size, 10_000);
    await pause(SWEEP_INTERVAL_MS + 200);
  }

  /** Decisions each listener logged for `streams` (a decision is logged once, by whoever won it). */
  function decisionsLogged(streams: Set<string>): Array<{ pid: number; via: string }> {
    const out: Array<{ pid: number; via: string }> = [];
    for (const p of system.workers)
      for (const l of p.lines as LogLine[]) if (l.msg === 'notification decided' && streams.has(l.streamId as string)) out.push({ pid: p.pid, via: l.via as string });
    return out;
  }

  function tally(decisions: Array<{ pid: number; via: string }>): Record<string, number> {
    const t: Record<string, number> = {};
    for (const d of decisions) t[`${d.pid}/${d.via}`] = (t[`${d.pid}/${d.via}`] ?? 0) + 1;
    return t;
  }

  function expectOnePushEach(streams: Set<string>): void {
    const pushed = inbox.of(streams);
    expect(pushed).toHaveLength(streams.size);
    expect(new Set(pushed.map((n) => n.streamId)).size).toBe(streams.size);
    expect(pushed.every((n) => n.type === 'ai.message.received')).toBe(true);
  }

  it('three listener instances: exactly one notification and one push per stream over 200 streams', async () => {
    listeners = await Promise.all([startListener(), startListener(), startListener()]);
    const started = Date.now();
    const streams = await generate(200, 'crowd');
    await settled(streams, 90_000);
    const elapsed = Date.now() - started;

    expect(await notificationRows(streams)).toEqual({ total: 200, distinct: 200 });
    expectOnePushEach(streams);
    const decided = decisionsLogged(streams);
    expect(decided).toHaveLength(200);
    console.info(`200 streams, 3 listeners: ${elapsed} ms to all notified and settled; decisions by listener/path ${JSON.stringify(tally(decided))}; pushes ${inbox.of(streams).length}`);
  }, 150_000);

  it('a listener stopped while 50 streams complete catches up when it starts: 50 notifications, no duplicates', async () => {
    await Promise.all(listeners.map((l) => l.stop()));
    const streams = await generate(50, 'while down');
    await eventually(async () => ((await countWhere(streams, `status = 'completed'`)) === 50 ? true : undefined), '50 completions', 30_000, 100);
    // Nobody decided anything while no listener ran.
    expect(await countWhere(streams, 'notification_decision IS NOT NULL')).toBe(0);
    expect(inbox.of(streams)).toEqual([]);

    const started = Date.now();
    const listener = await startListener();
    listeners = [listener];
    expect((await listener.waitForLog((l) => l.msg === 'completion listener started')).resumeFrom).not.toBe('now');
    await settled(streams, 30_000);
    const elapsed = Date.now() - started;

    expect(await notificationRows(streams)).toEqual({ total: 50, distinct: 50 });
    expectOnePushEach(streams);
    const decided = decisionsLogged(streams);
    expect(decided).toHaveLength(50);
    console.info(`50 streams ended with no listener: ${elapsed} ms from listener start to all notified and settled; decisions by listener/path ${JSON.stringify(tally(decided))}`);
  }, 90_000);

  it('a listener that lost its place in the event stream still catches up, through the sweep', async () => {
    await Promise.all(listeners.map((l) => l.stop()));
    const keys = redisKeys(system.prefix);
    await redis.del(keys.listenerCursor);
    const streams = await generate(20, 'cursor lost');
    await eventually(async () => ((await countWhere(streams, `status = 'completed'`)) === 20 ? true : undefined), '20 completions', 30_000, 100);

    const listener = await startListener();
    listeners = [listener];
    expect((await listener.waitForLog((l) => l.msg === 'completion listener started')).resumeFrom).toBe('now');
    await settled(streams, 30_000);
    expect(await notificationRows(streams)).toEqual({ total: 20, distinct: 20 });
    expectOnePushEach(streams);
    expect(decisionsLogged(streams).map((d) => d.via)).toEqual(Array(20).fill('sweep'));
  }, 90_000);

  it('a listener that replays the whole event stream from the start creates and pushes nothing new', async () => {
    await Promise.all(listeners.map((l) => l.stop()));
    const keys = redisKeys(system.prefix);
    // The last final outcome in the event stream: the replay is done when the cursor reaches it.
    const recent = (await redis.xrevrange(`${keys.bullPrefix}:${GENERATION_QUEUE}:events`, '+', '-', 'COUNT', 2000)) as Array<[string, string[]]>;
    const lastOutcome = recent.find(([, fields]) => fields[1] === 'completed' || fields[1] === 'failed');
    expect(lastOutcome).toBeDefined();
    await redis.set(keys.listenerCursor, '0-0');
    const pushesBefore = inbox.of(allStreams).length;
    const { n: rowsBefore } = (await pg.query<{ n: number }>('SELECT count(*)::int AS n FROM notifications')).rows[0];

    listeners = [await startListener()];
    await eventually(async () => ((await redis.get(keys.listenerCursor)) === lastOutcome![0] ? true : undefined), 'the replay to reach the last outcome', 30_000, 100);
    // A stream that ends after the replay is still notified, and its push arrives after any replayed one would have.
    const fresh = await generate(1, 'after replay');
    await inbox.until(fresh, 1, 15_000);
    expect(inbox.of(allStreams).length).toBe(pushesBefore + 1);
    expect((await pg.query<{ n: number }>('SELECT count(*)::int AS n FROM notifications')).rows[0].n).toBe(rowsBefore + 1);
  }, 90_000);
});
