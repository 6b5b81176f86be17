import { randomBytes } from 'node:crypto';
import type { Job } from 'bullmq';
import type { GenerationJob, GenerationResult } from '@bgs/shared';
import { closeRedis, createRedis, redisKeys, simulatedAnswer, type RedisClient } from '@bgs/server';
import { countingDatabase, recordCommands } from '../../../../test/support/counters';
import { createTestDatabase, type TestDatabase } from '../../../../test/support/database';
import { testRedisTarget } from '../../../../test/support/redis-target';
import { seedStream } from '../../../../test/support/seed';
import { inProcessGenerator } from '../../../../test/support/worker-processor';

/**
 * The hot path, counted against real Postgres and Redis: the processor runs in this
 * process so every SQL statement and Redis command it sends can be counted.
 */
describe('generation processor costs', () => {
  let testDb: TestDatabase;
  let db: ReturnType<typeof countingDatabase>;
  let redis: RedisClient;
  let redisCommands: string[];
  const keys = redisKeys(`c${randomBytes(4).toString('hex')}`);

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = countingDatabase(testDb.url);
    redis = createRedis(testRedisTarget(), { name: 'counted' });
    await redis.ping();
    // Every command this connection sends is one round trip (no pipelines on this path).
    redisCommands = recordCommands(redis as never);
  });

  afterAll(async () => {
    await closeRedis(redis);
    await db.close();
    await testDb.drop();
  });

  async function run(tokens: number, rate: number) {
    const content = `Count me [sim tokens=${tokens} rate=${rate}]`;
    const data = await seedStream(db.prisma, content);
    // 1 ms frames so a long stream makes hundreds of them; checkpoints off the table.
    const processor = inProcessGenerator({ sql: db.sql, redis, keys, frameMs: 1 });
    const job = { id: data.streamId, data, opts: { attempts: 3 }, attemptsMade: 0 } as unknown as Job<GenerationJob, GenerationResult>;
    const queriesBefore = db.statements();
    redisCommands.length = 0;
    const result = await processor(job, 'token');
    const commands = [...redisCommands];
    const message = await db.prisma.message.findUniqueOrThrow({ where: { id: data.messageId } });
    return { result, queries: db.statements() - queriesBefore - 1, redis: commands, message, expected: simulatedAnswer(content, tokens).join('') };
  }

  it('sends the same number of Postgres queries for 10 tokens as for 10,000', async () => {
    const short = await run(10, 1_000);
    // Two seconds of streaming: enough frames even when a loaded machine (CI runs five
    // projects at once) merges tokens behind flushes of 50–100 ms.
    const long = await run(10_000, 5_000);
    expect(short.message.content).toBe(short.expected);
    expect(long.message.content).toBe(long.expected);
    // Many frames (fewer on a loaded machine, where frames merge behind slow flushes)…
    expect(long.result.seq).toBeGreaterThanOrEqual(10);
    expect(long.result.seq).toBeGreaterThan(short.result.seq);
    // …and not one more query for them.
    expect(long.queries).toBe(short.queries);
    console.info(`Postgres statements per stream: ${short.queries} for 10 tokens (${short.result.seq} frames), ${long.queries} for 10,000 tokens (${long.result.seq} frames)`);
    // start (stream update + history, one statement) and end (one statement): a small constant.
    expect(short.queries).toBe(2);
  });

  it('costs one Redis round trip per frame, plus three per stream', async () => {
    const { result, redis: commands } = await run(2_000, 1_000);
    const frames = result.seq;
    expect(frames).toBeGreaterThanOrEqual(10);
    // begin attempt, "started" publish, one script per frame, finish.
    expect(commands.length).toBe(frames + 3);
    expect(commands.filter((c) => c !== 'evalsha' && c !== 'eval').length).toBe(1); // the "started" publish
  });
});
