import { Queue, type JobState } from 'bullmq';
import { GENERATION_QUEUE, type Config, type GenerationJob, type GenerationResult, type RedisTarget } from '@bgs/shared';
import type { Logger } from '../logging/logger';
import { bullConnection } from '../redis/connection';
import type { RedisKeys } from '../redis/keys';

/** Where a stream's job is: not yet taken, running, or no longer in the queue. */
export type JobRemoval = 'removed' | 'running' | 'missing';

/** What the processes need of the generation queue. */
export interface GenerationQueue {
  /** Enqueues a stream's generation; enqueuing a stream twice is a no-op (job id = stream id). */
  enqueue(job: GenerationJob): Promise<void>;
  /** Removes a waiting or delayed job. `running`: a worker holds it; `missing`: no such job. */
  removeIfNotRunning(streamId: string): Promise<JobRemoval>;
  jobState(streamId: string): Promise<JobState | 'unknown'>;
  /** The BullMQ queue itself (Bull Board, metrics). */
  readonly queue: Queue<GenerationJob, GenerationResult>;
  close(): Promise<void>;
}

export interface GenerationQueueOptions {
  redis: RedisTarget;
  keys: RedisKeys;
  worker: Config['worker'];
  logger: Logger;
  /** Commands fail at once while Redis is down (the API answers 503) instead of waiting for it. */
  failFast: boolean;
}

/**
 * The one way to reach the generation queue, for the API, the worker and the lost-stream
 * reaper alike, so every job gets the same options: `attempts` with exponential backoff,
 * and removal from Redis once it is over (Postgres keeps the outcome).
 */
export function createGenerationQueue(options: GenerationQueueOptions): GenerationQueue {
  const { keys, worker, logger, failFast } = options;
  const bull = bullConnection(options.redis, { failFast });
  const queue = new Queue<GenerationJob, GenerationResult>(GENERATION_QUEUE, {
    connection: bull.connection,
    prefix: keys.bullPrefix,
    streams: { events: { maxLen: worker.eventsMaxLen } },
    defaultJobOptions: {
      attempts: worker.attempts,
      backoff: { type: 'exponential', delay: worker.backoffMs },
      // Postgres keeps the outcome; Redis keeps finished jobs only for inspection.
      removeOnComplete: worker.completedJobRetentionS === 0 ? true : { age: worker.completedJobRetentionS, count: 10_000 },
      removeOnFail: { age: 24 * 3600, count: 10_000 },
    },
  });
  queue.on('error', (err) => logger.warn({ err: err.message }, 'queue connection error'));
  return {
    queue,
    async enqueue(job) {
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
    jobState: (streamId) => queue.getJobState(streamId),
    close: async () => {
      await queue.close();
      await bull.close();
    },
  };
}
