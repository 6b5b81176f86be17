import type { GenerationJob, TerminalStreamStatus } from '@bgs/shared';
import { retryWhileDatabaseUnavailable } from '../db/retry';
import type { Logger } from '../logging/logger';
import { failureShownFor, ProviderError } from '../providers/provider';
import type { StreamEnding } from '../streams/stream-records';
import { endStream, resyncEndedStream } from './end-stream';
import { runAttempt, type AttemptPorts } from './run-attempt';

/** The stream a generation answers (a BullMQ job's data in background mode). */
export type GenerationRequest = Pick<GenerationJob, 'streamId' | 'threadId' | 'messageId' | 'model'>;

/** How the caller retries: a transient failure is left for another attempt while `mayRetry` says so. */
export interface RetryPolicy {
  mayRetry: boolean;
}

/**
 * How a generation run ended. `ended`: the stream ended in Postgres, the live buffer and
 * its events, once (`applied: false` when someone else, the lost-stream reaper or a
 * thread deletion, had ended it first: that end stands). `retry`: a transient failure
 * with attempts left; nothing ended, the caller runs a new attempt. `superseded`: a newer
 * attempt owns the stream. `handed-back`: the process is shutting down; another run will
 * take over. `not-started`: the stream had already ended (or was deleted) when this run
 * began.
 */
export type GenerationOutcome =
  | { kind: 'ended'; status: TerminalStreamStatus; attempt: number; seq: number; chars: number; tokens: number; failure: unknown; applied: boolean }
  | { kind: 'retry'; attempt: number; failure: unknown }
  | { kind: 'superseded'; attempt: number }
  | { kind: 'handed-back'; attempt: number; seq: number }
  | { kind: 'not-started' };

/**
 * How long a generation waits out a Postgres outage (restart, failover) when it starts
 * and when it ends: an answer already generated is not thrown away because Postgres blinked.
 */
const DATABASE_RETRY_MS = 20_000;

/**
 * The life of one attempt of a stream, the same in both modes: the live buffer numbers
 * the attempt (and refuses an ended stream), Postgres marks it started and gives the
 * history, `stream.reset` (a retry) and `stream.started` go out, the provider's tokens
 * become frames, and the stream ends once, with the partial text on cancel or failure.
 */
export async function runGeneration(request: GenerationRequest, control: AbortController, ports: AttemptPorts, policy: RetryPolicy): Promise<GenerationOutcome> {
  const { streamId, threadId, messageId } = request;
  const begun = await ports.live.beginAttempt(request);
  if (!begun) {
    await durably('resync', control, ports.logger, () => resyncEndedStream(ports, streamId));
    ports.logger.info('stream had already ended; nothing to generate');
    return { kind: 'not-started' };
  }
  const { attempt } = begun;
  const logger = ports.logger.child({ attempt });
  const start = await durably('start attempt', control, logger, () => ports.records.startAttempt(streamId, attempt));
  if (start.kind !== 'started') {
    await durably('resync', control, logger, () => resyncEndedStream(ports, streamId));
    logger.info({ found: start.kind }, 'stream ended or was deleted before the attempt started');
    return { kind: 'not-started' };
  }
  if (begun.cancelled) control.abort('cancel');
  if (attempt > 1) await ports.events.reset({ streamId, threadId, attempt }).send();
  await ports.events.started({ streamId, threadId, messageId, attempt }).send();
  logger.info({ historyMessages: start.history.length, model: request.model }, 'generation started');

  const startedAt = Date.now();
  const result = await runAttempt({ ...request, attempt, history: start.history, control }, { ...ports, logger });
  if (result.abortedBy === 'superseded') {
    logger.warn('a newer attempt took over this stream; stopping');
    return { kind: 'superseded', attempt };
  }
  if (result.abortedBy === 'shutdown') return { kind: 'handed-back', attempt, seq: result.seq };
  if (result.failure && isRetryable(result.failure) && policy.mayRetry) {
    logger.warn({ err: errorText(result.failure), code: (result.failure as ProviderError).code }, 'attempt failed; will retry');
    return { kind: 'retry', attempt, failure: result.failure };
  }

  const status = result.failure ? 'failed' : result.abortedBy === 'cancel' ? 'cancelled' : 'completed';
  const ending: StreamEnding = { status, content: result.content, attempt, seq: result.seq, ...(result.failure ? { error: failureShownFor(result.failure) } : {}) };
  const ended = await durably('finish', control, logger, () => endStream(ports, streamId, ending));
  const log = { status, tokens: result.tokens, frames: result.seq, chars: result.content.length, elapsedMs: Date.now() - startedAt };
  if (!ended) logger.warn(log, 'the stream had already ended; this attempt\'s end was not applied');
  else if (result.failure) logger.error({ ...log, err: errorText(result.failure), code: ending.error?.code }, 'generation failed for good');
  else logger.info(log, 'generation ended');
  return { kind: 'ended', status, attempt, seq: result.seq, chars: result.content.length, tokens: result.tokens, failure: result.failure, applied: ended !== null };
}

/** Provider errors say whether another attempt could help; anything else (Redis, a bug) might. */
function isRetryable(err: unknown): boolean {
  return err instanceof ProviderError ? err.retryable : true;
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * A Postgres write of the stream's start or end, retried while Postgres is unreachable
 * (not past a shutdown: the run is then left to the caller's retry). Giving up is logged,
 * since the error then only reaches the caller.
 */
async function durably<T>(write: string, control: AbortController, log: Logger, run: () => Promise<T>): Promise<T> {
  try {
    return await retryWhileDatabaseUnavailable(run, {
      timeoutMs: DATABASE_RETRY_MS,
      stop: () => control.signal.reason === 'shutdown',
      onRetry: (err, failures) => log.warn({ write, failures, err: err.message }, 'postgres unavailable; retrying the write'),
    });
  } catch (err) {
    log.error({ write, err: errorText(err) }, 'postgres write failed; left to retries and the sweep');
    throw err;
  }
}
