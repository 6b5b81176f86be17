import { Queue } from 'bullmq';
import { GENERATION_QUEUE, type Config, type GenerationJob, type GenerationResult } from '@bgs/shared';
import { bullConnection, type Logger, type RedisKeys } from '@bgs/server';

/** What the API needs of the queue: add a job, and take back one that has not started. */
export interface GenerationQueue {
  enqueue(job: GenerationJob): Promise<void>;
  /** Removes a waiting or delayed job. `running`: a worker holds it; `missing`: no such job. */
  removeIfNotRunning(streamId: string): Promise<'removed' | 'running' | 'missing'>;
  close(): Promise<void>;
}

export function createGenerationQueue(redisUrl: string, keys: RedisKeys, worker: Config['worker'], logger: Logger): GenerationQueue & { queue: Queue } {
  const queue = new Queue<GenerationJob, GenerationResult>(GENERATION_QUEUE, {
    // Fail fast while Redis is down: the send answers 503 instead of waiting for a reconnect.
    connection: { ...bullConnection(redisUrl), enableOfflineQueue: false },
    prefix: keys.bullPrefix,
    streams: { events: { maxLen: worker.eventsMaxLen } },
    defaultJobOptions: {
      attempts: worker.attempts,
      backoff: { type: 'exponential', delay: worker.backoffMs },
      // Postgres keeps the outcome; Redis keeps finished jobs only for inspection.
      removeOnComplete: { age: 3600, count: 10_000 },
      removeOnFail: { age: 24 * 3600, count: 10_000 },
    },
  });
  queue.on('error', (err) => logger.warn({ err: err.message }, 'queue connection error'));
  return {
    queue,
    async enqueue(job) {
      // Job id = stream id: adding the same stream twice is a no-op in BullMQ.
      await queue.add('generate', job, { jobId: job.streamId });
    },
    async removeIfNotRunning(streamId) {
      const job = await queue.getJob(streamId);
      if (!job) return 'missing';
      const state = await job.getState();
      if (state === 'active') return 'running';
      if (state !== 'waiting' && state !== 'delayed' && state !== 'prioritized') return 'missing';
      try {
        await job.remove();
        return 'removed';
      } catch {
        return 'running'; // picked up meanwhile: the worker sees the cancel flag
      }
    },
    close: () => queue.close(),
  };
}
