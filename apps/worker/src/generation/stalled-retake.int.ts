import { randomBytes } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import { GENERATION_QUEUE, type GenerationJob, type GenerationResult } from '@bgs/shared';
import {
  bullConnection,
  CancelSignals,
  closeRedis,
  createDatabase,
  createRedis,
  redisKeys,
  simulatedAnswer,
  type BullConnection,
  type Database,
  type RedisClient,
} from '@bgs/server';
import { createTestDatabase, type TestDatabase } from '../../../../test/support/database';
import { eventually } from '../../../../test/support/http';
import { testRedisTarget } from '../../../../test/support/redis-target';
import { seedStream } from '../../../../test/support/seed';
import { inProcessGenerator } from '../../../../test/support/worker-processor';

const LOCK_MS = 1_000;

/**
 * A job whose lock was lost while its run went on (a Redis outage longer than the lock)
 * is taken for stalled and, with a free slot, taken again by the same worker. BullMQ
 * tracks locks by job id: when the first run (superseded by the new attempt) returned,
 * BullMQ stopped renewing the new run's lock, the job stalled a second time and failed
 * as "stalled more than allowable limit" while the new attempt was still streaming.
 */
describe('a stalled job taken again by the same worker', () => {
  let testDb: TestDatabase;
  let db: Database;
  let redis: RedisClient;
  let bull: BullConnection;
  let queue: Queue<GenerationJob, GenerationResult>;
  let worker: Worker<GenerationJob, GenerationResult> | undefined;
  const keys = redisKeys(`s${randomBytes(4).toString('hex')}`);

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = createDatabase(testDb.url);
    redis = createRedis(testRedisTarget(), { name: 'stalled-retake' });
    bull = bullConnection(testRedisTarget());
    queue = new Queue(GENERATION_QUEUE, { connection: bull.connection, prefix: keys.bullPrefix });
  });

  afterAll(async () => {
    await worker?.close();
    await queue.obliterate({ force: true });
    await queue.close();
    await bull.close();
    await closeRedis(redis);
    await db.close();
    await testDb.drop();
  });

  it('keeps renewing the new run\'s lock after the superseded run stops: the job completes once, by the new attempt', async () => {
    const content = `Stall me [sim tokens=60 rate=20]`;
    const data = await seedStream(db.prisma, content);
    const cancels = new CancelSignals();
    const processor = inProcessGenerator({ sql: db.sql, redis, keys, frameMs: 20, cancels });
    // What BullMQ reports, in order.
    const seen: string[] = [];
    const outcome = new Promise<string>((resolve) => {
      worker = new Worker<GenerationJob, GenerationResult>(GENERATION_QUEUE, processor, {
        connection: bull.connection,
        prefix: keys.bullPrefix,
        concurrency: 2,
        lockDuration: LOCK_MS,
        stalledInterval: 250,
        maxStalledCount: 1,
      });
      worker.on('stalled', () => seen.push('stalled'));
      worker.on('completed', (_job, result) => resolve(`completed: attempt ${result.attempt}, ${result.status}`));
      worker.on('failed', (_job: Job | undefined, err) => resolve(`failed: ${err.message}`));
      worker.on('error', () => undefined); // the superseded run's own finish is refused (its lock is gone)
    });
    await queue.add('generate', data, { jobId: data.streamId, attempts: 3 });
    await eventually(async () => (cancels.has(data.streamId) ? true : undefined), 'the first run');

    // The first run's lock disappears, as it does when Redis is down longer than the
    // lock; the run itself goes on, and its renewals now fail.
    await redis.del(`${keys.bullPrefix}:${GENERATION_QUEUE}:${data.streamId}:lock`);

    // Stalled once, taken again at once (a slot is free), attempt 2 supersedes the first
    // run; the job must then run to the end of attempt 2, well past LOCK_MS.
    expect(await outcome).toBe('completed: attempt 2, completed');
    expect(seen).toEqual(['stalled']);
    const stream = await db.prisma.stream.findUniqueOrThrow({ where: { id: data.streamId } });
    expect({ status: stream.status, attempt: stream.attempt }).toEqual({ status: 'completed', attempt: 2 });
    const message = await db.prisma.message.findUniqueOrThrow({ where: { id: data.messageId } });
    expect(message.content).toBe(simulatedAnswer(content, 60).join(''));
    expect(await queue.getJobState(data.streamId)).toBe('completed');
  }, 30_000);
});
