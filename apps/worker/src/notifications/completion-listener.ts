import { QueueEvents } from 'bullmq';
import { GENERATION_QUEUE, type RedisTarget } from '@bgs/shared';
import { bullConnection, type BullConnection, type Logger, type RedisClient, type RedisKeys } from '@bgs/server';
import type { NotificationDecider } from './notification-decider';
import type { LostStreamReaper } from './lost-stream-reaper';

export interface CompletionListenerOptions {
  redis: RedisTarget;
  /** Stores the last handled event id, so a restarted listener resumes where it stopped. */
  cursor: RedisClient;
  keys: RedisKeys;
  decider: NotificationDecider;
  reaper: LostStreamReaper;
  logger: Logger;
}

/** A final outcome as BullMQ's event stream told it. */
interface Outcome {
  streamId: string;
  eventId: string;
  kind: 'completed' | 'failed';
  failedReason?: string;
}

/** Decisions made together at most: one read, one presence round trip, one claim statement. */
const MAX_BATCH = 500;

/**
 * Follows BullMQ's `completed` / `failed` events (final outcomes only: a failed attempt
 * that will be retried emits neither) and decides the streams' notifications. Events
 * that arrive while a batch is being decided form the next batch, so a burst of
 * completions costs a few statements, not a few per stream. Batches run one at a time,
 * in order, so the saved cursor never passes an unhandled event; what the capped event
 * stream dropped is caught by the sweep.
 */
export class CompletionListener {
  private events: QueueEvents | null = null;
  private connection: BullConnection | null = null;
  private readonly pending: Outcome[] = [];
  private draining: Promise<void> | null = null;

  constructor(private readonly opts: CompletionListenerOptions) {}

  async start(): Promise<void> {
    const { keys, cursor, logger } = this.opts;
    const lastEventId = (await cursor.get(keys.listenerCursor)) ?? undefined;
    this.connection = bullConnection(this.opts.redis);
    this.events = new QueueEvents(GENERATION_QUEUE, {
      connection: this.connection.connection,
      prefix: keys.bullPrefix,
      ...(lastEventId ? { lastEventId } : {}),
    });
    this.events.on('completed', ({ jobId }, id) => this.enqueue(jobId, id, 'completed'));
    this.events.on('failed', ({ jobId, failedReason }, id) => this.enqueue(jobId, id, 'failed', failedReason));
    this.events.on('error', (err) => logger.warn({ err: err.message }, 'queue events connection error'));
    await this.events.waitUntilReady();
    logger.info({ resumeFrom: lastEventId ?? 'now' }, 'completion listener started');
  }

  private enqueue(streamId: string, eventId: string, kind: Outcome['kind'], failedReason?: string): void {
    this.pending.push({ streamId, eventId, kind, failedReason });
    this.draining ??= this.drain();
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) await this.decideBatch(this.pending.splice(0, MAX_BATCH));
    } finally {
      this.draining = null;
    }
  }

  private async decideBatch(batch: Outcome[]): Promise<void> {
    const { decider, reaper, cursor, keys, logger } = this.opts;
    try {
      const results = await decider.decideMany(batch.map((o) => o.streamId));
      for (const o of batch) {
        if (results.get(o.streamId) !== 'not-ended' || o.kind !== 'failed') continue;
        // The job failed without the processor ending the stream (it stalled too often).
        await reaper.failLostStream(o.streamId, o.failedReason ?? 'job failed');
        await decider.decide(o.streamId);
      }
      await cursor.set(keys.listenerCursor, batch[batch.length - 1].eventId);
    } catch (err) {
      // Left for the sweep, which retries every ended stream without a decision.
      logger.error({ streams: batch.length, firstStreamId: batch[0].streamId, err: (err as Error).message }, 'could not decide notifications');
    }
  }

  async close(): Promise<void> {
    await this.events?.close();
    await this.connection?.close();
    await this.draining;
  }
}
