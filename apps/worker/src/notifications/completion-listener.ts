import { QueueEvents } from 'bullmq';
import { GENERATION_QUEUE } from '@bgs/shared';
import { bullConnection, type Logger, type Redis, type RedisKeys } from '@bgs/server';
import type { DecideResult, NotificationDecider } from './notification-decider';
import type { LostStreamReaper } from './lost-stream-reaper';

export interface CompletionListenerOptions {
  redisUrl: string;
  /** Stores the last handled event id, so a restarted listener resumes where it stopped. */
  cursor: Redis;
  keys: RedisKeys;
  decider: NotificationDecider;
  reaper: LostStreamReaper;
  logger: Logger;
}

/**
 * Follows BullMQ's `completed` / `failed` events (final outcomes only: a failed attempt
 * that will be retried emits neither) and decides each stream's notification. Events
 * are handled one at a time so the saved cursor never passes an unhandled one; what
 * the capped event stream dropped is caught by the sweep.
 */
export class CompletionListener {
  private events: QueueEvents | null = null;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly opts: CompletionListenerOptions) {}

  async start(): Promise<void> {
    const { keys, cursor, logger } = this.opts;
    const lastEventId = (await cursor.get(keys.listenerCursor)) ?? undefined;
    this.events = new QueueEvents(GENERATION_QUEUE, {
      connection: bullConnection(this.opts.redisUrl),
      prefix: keys.bullPrefix,
      ...(lastEventId ? { lastEventId } : {}),
    });
    this.events.on('completed', ({ jobId }, id) => this.enqueue(jobId, id, 'completed'));
    this.events.on('failed', ({ jobId, failedReason }, id) => this.enqueue(jobId, id, 'failed', failedReason));
    this.events.on('error', (err) => logger.warn({ err: err.message }, 'queue events connection error'));
    await this.events.waitUntilReady();
    logger.info({ resumeFrom: lastEventId ?? 'now' }, 'completion listener started');
  }

  private enqueue(streamId: string, eventId: string, kind: 'completed' | 'failed', failedReason?: string): void {
    this.chain = this.chain.then(async () => {
      try {
        const result: DecideResult = await this.opts.decider.decide(streamId);
        if (result === 'not-ended' && kind === 'failed') {
          // The job failed without the processor ending the stream (it stalled too often).
          await this.opts.reaper.failLostStream(streamId, failedReason ?? 'job failed');
          await this.opts.decider.decide(streamId);
        }
        await this.opts.cursor.set(this.opts.keys.listenerCursor, eventId);
      } catch (err) {
        // Left for the sweep, which retries every ended stream without a decision.
        this.opts.logger.error({ streamId, eventId, err: (err as Error).message }, 'could not decide notification');
      }
    });
  }

  async close(): Promise<void> {
    await this.events?.close();
    await this.chain;
  }
}
