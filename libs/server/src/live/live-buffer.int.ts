import { randomBytes, randomUUID } from 'node:crypto';
import { recordCommands } from '../../../../test/support/counters';
import { onRedisCluster, testRedisTarget } from '../../../../test/support/redis-target';
import type { Announcement } from '../events/stream-events';
import { closeRedis, createRedis, type RedisClient } from '../redis/connection';
import { redisKeys } from '../redis/keys';
import { keySlot } from '../redis/slots';
import type { LiveBuffer } from './live-buffer';
import { MemoryLiveBuffer } from './memory-live-buffer';
import { RedisLiveBuffer } from './redis-live-buffer';

/** An announcement that records when it was sent (the in-memory buffer, and Redis without a packet, send it). */
function told(log: string[], what: string): Announcement {
  return { send: async () => void log.push(what) };
}

/** A stream of a thread of its own. */
const newStream = (threadId: string = randomUUID()) => ({ streamId: randomUUID(), threadId });

/** The LiveBuffer contract, run against both adapters (like resumable-stream's suite per backend). */
describe.each([
  ['Redis (Lua)', 'redis'],
  ['memory', 'memory'],
] as const)('the live buffer in %s', (_name, kind) => {
  let redis: RedisClient;
  let live: LiveBuffer;
  const cancelled: string[] = [];
  const keys = redisKeys(`lb${randomBytes(4).toString('hex')}`);

  beforeAll(async () => {
    // As the worker connects: auto-pipelined (on a cluster, scripts that take a key count first are not).
    redis = createRedis(testRedisTarget(), { name: 'live-buffer-suite', enableAutoPipelining: true });
    live = kind === 'redis'
      ? new RedisLiveBuffer(redis, keys, 60)
      : new MemoryLiveBuffer({ endedTtlMs: 60_000, onCancelRequested: (id) => cancelled.push(id) });
  });
  afterAll(async () => {
    await closeRedis(redis);
  });

  it('numbers attempts, starts each from empty content, and reads content, seq and status together', async () => {
    const id = newStream();
    expect(await live.read(id)).toBeNull();
    expect(await live.beginAttempt(id)).toEqual({ attempt: 1, cancelled: false });
    const log: string[] = [];
    expect(await live.appendFrame(id, 1, 1, 'Hel', told(log, 'f1'))).toBe('appended');
    expect(await live.appendFrame(id, 1, 2, 'lo', told(log, 'f2'))).toBe('appended');
    expect(await live.read(id)).toEqual({ attempt: 1, seq: 2, status: 'streaming', content: 'Hello' });
    expect(await live.beginAttempt(id)).toEqual({ attempt: 2, cancelled: false });
    expect(await live.read(id)).toEqual({ attempt: 2, seq: 0, status: 'streaming', content: '' });
    if (kind === 'memory') expect(log).toEqual(['f1', 'f2']);
  });

  it("refuses a superseded attempt's frame, and says when a cancel was requested", async () => {
    const id = newStream();
    await live.beginAttempt(id);
    await live.beginAttempt(id);
    const log: string[] = [];
    expect(await live.appendFrame(id, 1, 1, 'late', told(log, 'stale'))).toBe('superseded');
    expect(log).toEqual([]);
    await live.requestCancel(id);
    expect(await live.appendFrame(id, 2, 1, 'kept', told(log, 'f1'))).toBe('cancel-requested');
    expect((await live.read(id))?.content).toBe('kept');
    if (kind === 'memory') expect(cancelled).toContain(id.streamId);
  });

  it('applies a frame sent twice once (ioredis resends a command whose reply a Redis crash lost)', async () => {
    const id = newStream();
    await live.beginAttempt(id);
    const log: string[] = [];
    expect(await live.appendFrame(id, 1, 1, 'Hel', told(log, 'f1'))).toBe('appended');
    expect(await live.appendFrame(id, 1, 2, 'lo', told(log, 'f2'))).toBe('appended');
    expect(await live.appendFrame(id, 1, 2, 'lo', told(log, 'f2 again'))).toBe('appended');
    await live.requestCancel(id);
    expect(await live.appendFrame(id, 1, 2, 'lo', told(log, 'f2 once more'))).toBe('cancel-requested');
    expect(await live.appendFrame(id, 1, 3, '!', told(log, 'f3'))).toBe('cancel-requested');
    expect(await live.read(id)).toEqual({ attempt: 1, seq: 3, status: 'streaming', content: 'Hello!' });
    expect(log).toEqual(['f1', 'f2', 'f3']);
  });

  it('ends once, keeps the final seq, and refuses a new attempt of an ended stream', async () => {
    const id = newStream();
    await live.beginAttempt(id);
    await live.appendFrame(id, 1, 1, 'done', told([], 'f1'));
    const log: string[] = [];
    expect(await live.finish(id, 'completed', 1, told(log, 'end'))).toBe(true);
    expect(await live.finish(id, 'failed', 1, told(log, 'second end'))).toBe(false);
    expect(log).toEqual(['end']);
    expect(await live.read(id)).toEqual({ attempt: 1, seq: 1, status: 'completed', content: 'done' });
    expect(await live.beginAttempt(id)).toBeNull();
  });

  it('a cancel requested before the first attempt reaches that attempt', async () => {
    const id = newStream();
    await live.requestCancel(id);
    expect(await live.beginAttempt(id)).toEqual({ attempt: 1, cancelled: true });
  });

  if (kind === 'redis') {
    it('frames appended in the same tick leave in one script call (one per hash slot on a cluster)', async () => {
      const thread = randomUUID();
      // Two streams of one thread (one slot whatever the topology), and streams of threads of their own.
      const ids = [newStream(thread), newStream(thread), ...Array.from({ length: 6 }, () => newStream())];
      for (const id of ids) await live.beginAttempt(id);
      const commands = recordCommands(redis as never);
      commands.length = 0;
      const outcomes = await Promise.all(ids.map((id, i) => live.appendFrame(id, 1, 1, `frame ${i}`, told([], 'f'))));
      expect(outcomes).toEqual(ids.map(() => 'appended'));
      const slots = new Set(ids.map((id) => keySlot(keys.streamLive(id)))).size;
      expect(slots).toBeGreaterThan(1);
      expect(commands.filter((c) => c === 'evalsha' || c === 'eval')).toHaveLength(onRedisCluster() ? slots : 1);
      expect((await Promise.all(ids.map((id) => live.read(id)))).map((r) => r?.content)).toEqual(ids.map((_, i) => `frame ${i}`));
    });
  }
});
