import { UnrecoverableError, WaitingError, type Job } from 'bullmq';
import { EVENTS, generationJobSchema, rooms, type GenerationJob, type GenerationResult } from '@bgs/shared';
import { encodeRoomEvent, failureShownFor, ProviderError, retryWhileDatabaseUnavailable, type Logger, type StreamEnding, type StreamFinisher } from '@bgs/server';
import { runAttempt, type AttemptDeps } from './attempt-run';
import type { CancelSignals } from './cancel-signals';

export interface ProcessorDeps extends AttemptDeps {
  finisher: StreamFinisher;
  cancels: CancelSignals;
  /** Observes how generations end (metrics). */
  onEnd?: (status: StreamEnding['status'] | 'retrying' | 'handed-back') => void;
}

type Processor = (job: Job<GenerationJob, GenerationResult>, token?: string) => Promise<GenerationResult>;

/**
 * How long a generation waits out a Postgres outage (restart, failover) when it starts
 * and when it ends, before the job fails this attempt and BullMQ's retry takes over:
 * an answer already generated is not thrown away because Postgres blinked.
 */
const DATABASE_RETRY_MS = 20_000;


/**
 * The BullMQ processor of a generation job (job id = stream id). Each run is a new
 * attempt: Redis decides its number and empties the live content, so a retry or a
 * recovery from a dead worker starts clean and clients see `stream.reset`.
 */
export function createGenerationProcessor(deps: ProcessorDeps): Processor {
  return async (job, token) => {
    const data = generationJobSchema.parse(job.data);
    const logger = deps.logger.child({ streamId: data.streamId, threadId: data.threadId, jobId: job.id });
    const control = deps.cancels.register(data.streamId);
    try {
      const begun = await deps.live.beginAttempt(data.streamId);
      if (!begun) {
        await durably('resync', control, logger, () => deps.finisher.resync(data.streamId));
        logger.info('stream had already ended; nothing to generate');
        return { status: 'cancelled', attempt: 0, seq: 0, chars: 0 };
      }
      const { attempt } = begun;
      const log = logger.child({ attempt });
      const start = await durably('start attempt', control, log, () => deps.streams.startAttempt(data.streamId, attempt));
      if (start.kind !== 'started') {
        await durably('resync', control, log, () => deps.finisher.resync(data.streamId));
        log.info({ found: start.kind }, 'stream ended or was deleted before the attempt started');
        return { status: 'cancelled', attempt, seq: 0, chars: 0 };
      }
      if (begun.cancelled) control.abort('cancel');
      await publishStart(deps, data, attempt);
      log.info({ historyMessages: start.history.length, model: data.model }, 'generation started');

      const startedAt = Date.now();
      let outcome;
      try {
        outcome = await runAttempt({ ...data, attempt, history: start.history, control }, { ...deps, logger: log });
      } catch (err) {
        return await handleFailure(deps, job, data, attempt, err, control, log);
      }
      const elapsedMs = Date.now() - startedAt;
      if (outcome.abortedBy === 'superseded') {
        log.warn('a newer attempt took over this stream; stopping');
        throw new Error('superseded by a newer attempt');
      }
      if (outcome.abortedBy === 'shutdown') {
        await handBack(job, token);
        deps.onEnd?.('handed-back');
        log.info({ seq: outcome.seq }, 'worker shutting down: job handed back to the queue');
        throw new WaitingError();
      }
      const status = outcome.abortedBy === 'cancel' ? 'cancelled' : 'completed';
      const ending: StreamEnding = { status, content: outcome.content, attempt, seq: outcome.seq };
      await durably('finish', control, log, () => deps.finisher.finish(data.streamId, ending));
      deps.onEnd?.(status);
      log.info({ status, tokens: outcome.tokens, frames: outcome.seq, chars: outcome.content.length, elapsedMs }, 'generation ended');
      return { status, attempt, seq: outcome.seq, chars: outcome.content.length };
    } finally {
      deps.cancels.release(data.streamId, control);
    }
  };
}

async function publishStart(deps: ProcessorDeps, data: GenerationJob, attempt: number): Promise<void> {
  const room = rooms.thread(data.threadId);
  const key = deps.keys.socketIoKey;
  if (attempt > 1) {
    await deps.live.publish(encodeRoomEvent(key, room, EVENTS.streamReset, { streamId: data.streamId, threadId: data.threadId, attempt }));
  }
  await deps.live.publish(
    encodeRoomEvent(key, room, EVENTS.streamStarted, { streamId: data.streamId, threadId: data.threadId, messageId: data.messageId, attempt }),
  );
}

/**
 * A provider error is retried when it is transient and attempts remain (BullMQ's
 * backoff, then a new attempt); otherwise the stream fails for good with a message
 * a user can read, and UnrecoverableError stops BullMQ from retrying.
 */
async function handleFailure(
  deps: ProcessorDeps,
  job: Job<GenerationJob, GenerationResult>,
  data: GenerationJob,
  attempt: number,
  err: unknown,
  control: AbortController,
  log: Logger,
): Promise<never> {
  const providerError = err instanceof ProviderError ? err : null;
  const retryable = providerError ? providerError.retryable : true;
  const attemptsAllowed = job.opts.attempts ?? 1;
  const isLast = job.attemptsMade + 1 >= attemptsAllowed;
  if (retryable && !isLast) {
    deps.onEnd?.('retrying');
    log.warn({ err: (err as Error).message, code: providerError?.code, attemptsMade: job.attemptsMade + 1, attemptsAllowed }, 'attempt failed; will retry');
    throw err;
  }
  const partial = (err as { partial?: { content: string; seq: number } }).partial ?? { content: '', seq: 0 };
  const error = failureShownFor(err);
  const ending: StreamEnding = { status: 'failed', content: partial.content, attempt, seq: partial.seq, error };
  await durably('finish', control, log, () => deps.finisher.finish(data.streamId, ending));
  deps.onEnd?.('failed');
  log.error({ err: (err as Error).message, code: error.code, retryable, attemptsMade: job.attemptsMade + 1 }, 'generation failed for good');
  throw new UnrecoverableError(error.message);
}

/**
 * A Postgres write of the stream's start or end, retried while Postgres is unreachable
 * (not past a shutdown: the job is then left to BullMQ's retry). Giving up is logged,
 * since the error then only reaches BullMQ.
 */
async function durably<T>(write: string, control: AbortController, log: Logger, run: () => Promise<T>): Promise<T> {
  try {
    return await retryWhileDatabaseUnavailable(run, {
      timeoutMs: DATABASE_RETRY_MS,
      stop: () => control.signal.reason === 'shutdown',
      onRetry: (err, failures) => log.warn({ write, failures, err: err.message }, 'postgres unavailable; retrying the write'),
    });
  } catch (err) {
    log.error({ write, err: (err as Error).message }, 'postgres write failed; left to BullMQ retries and the sweep');
    throw err;
  }
}

/** Puts the job back in the wait list so another worker starts a new attempt at once. */
async function handBack(job: Job, token: string | undefined): Promise<void> {
  await job.moveToWait(token);
}
