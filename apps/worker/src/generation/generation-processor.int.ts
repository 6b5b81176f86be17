import { randomBytes, randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import type { GenerationJob, GenerationResult } from '@bgs/shared';
import {
  closeRedis,
  createDatabase,
  createLogger,
  createRedis,
  createSimulatedProvider,
  LiveStreamStore,
  redisKeys,
  simulatedAnswer,
  StreamFinisher,
  StreamStore,
  type Database,
  type Redis,
} from '@bgs/server';
import { createTestDatabase, type TestDatabase } from '../../../../test/support/database';
import { testEnv } from '../../../../test/support/env';
import { CancelSignals } from './cancel-signals';
import { createGenerationProcessor } from './generation-processor';

/**
 * The hot path, counted against real Postgres and Redis: the processor runs in this
 * process so every SQL statement and Redis command it sends can be counted.
 */
describe('generation processor costs', () => {
  let testDb: TestDatabase;
  let db: Database;
  let redis: Redis;
  let subscriber: Redis;
  let redisCommands: string[];
  const keys = redisKeys(`c${randomBytes(4).toString('hex')}`);
  const logger = createLogger('test', 'silent');

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = createDatabase(testDb.url);
    redis = createRedis(testEnv().redisUrl, { name: 'counted' });
    subscriber = createRedis(testEnv().redisUrl, { name: 'cancel-sub' });
    await redis.ping();
    // Every command this connection sends is one round trip (no pipelines on this path).
    const send = redis.sendCommand.bind(redis);
    redis.sendCommand = ((command: { name: string }) => {
      redisCommands.push(command.name);
      return send(command as never);
    }) as typeof redis.sendCommand;
  });

  afterAll(async () => {
    await closeRedis(redis);
    await closeRedis(subscriber);
    await db.close();
    await testDb.drop();
  });

  async function seedStream(content: string) {
    const userId = `u-${randomUUID()}`;
    const threadId = randomUUID();
    const streamId = randomUUID();
    const userMessageId = randomUUID();
    const messageId = randomUUID();
    await db.prisma.user.create({ data: { id: userId } });
    await db.prisma.thread.create({ data: { id: threadId, userId, title: 'Counting', activeStreamId: streamId } });
    await db.prisma.message.create({ data: { id: userMessageId, threadId, role: 'user', content, status: 'complete', createdAt: new Date(Date.now() - 1) } });
    await db.prisma.message.create({ data: { id: messageId, threadId, role: 'assistant', content: '', status: 'streaming', streamId } });
    await db.prisma.stream.create({ data: { id: streamId, threadId, messageId, userMessageId, userId, model: 'simulated-1' } });
    return { streamId, threadId, messageId, userId, model: 'simulated-1' } satisfies GenerationJob;
  }

  async function run(tokens: number, rate: number) {
    const content = `Count me [sim tokens=${tokens} rate=${rate}]`;
    const data = await seedStream(content);
    const live = new LiveStreamStore(redis, keys, 60);
    const streams = new StreamStore(db.prisma);
    const cancels = new CancelSignals(subscriber, keys.cancelChannel, logger);
    const processor = createGenerationProcessor({
      provider: createSimulatedProvider({ tokens: 10, tokensPerSecond: 40 }),
      live,
      streams,
      finisher: new StreamFinisher(streams, live, keys),
      cancels,
      keys,
      // 1 ms frames so a long stream makes hundreds of them; checkpoints off the table.
      frames: { frameMs: 1, maxChars: 64, checkpointMs: 3_600_000 },
      logger,
    });
    const job = { id: data.streamId, data, opts: { attempts: 3 }, attemptsMade: 0 } as unknown as Job<GenerationJob, GenerationResult>;
    const queriesBefore = db.queries.count;
    redisCommands = [];
    const result = await processor(job, 'token');
    const message = await db.prisma.message.findUniqueOrThrow({ where: { id: data.messageId } });
    return { result, queries: db.queries.count - queriesBefore - 1, redis: [...redisCommands], message, expected: simulatedAnswer(content, tokens).join('') };
  }

  it('sends the same number of Postgres queries for 10 tokens as for 10,000', async () => {
    const short = await run(10, 1_000);
    const long = await run(10_000, 20_000);
    expect(short.message.content).toBe(short.expected);
    expect(long.message.content).toBe(long.expected);
    // Many frames (fewer on a loaded machine, where frames merge behind slow flushes)…
    expect(long.result.seq).toBeGreaterThanOrEqual(10);
    expect(long.result.seq).toBeGreaterThan(short.result.seq);
    // …and not one more query for them.
    expect(long.queries).toBe(short.queries);
    console.info(`Postgres statements per stream: ${short.queries} for 10 tokens (${short.result.seq} frames), ${long.queries} for 10,000 tokens (${long.result.seq} frames)`);
    // start (stream update + history) and end (one transaction): a small constant.
    expect(short.queries).toBeLessThanOrEqual(8);
  });

  it('costs one Redis round trip per frame, plus three per stream', async () => {
    const { result, redis: commands } = await run(2_000, 4_000);
    const frames = result.seq;
    expect(frames).toBeGreaterThanOrEqual(10);
    // begin attempt, "started" publish, one script per frame, finish.
    expect(commands.length).toBe(frames + 3);
    expect(commands.filter((c) => c !== 'evalsha' && c !== 'eval').length).toBe(1); // the "started" publish
  });
});
