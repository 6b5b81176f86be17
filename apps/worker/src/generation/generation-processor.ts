import { UnrecoverableError, WaitingError, type Job } from 'bullmq';
import { generationJobSchema, type GenerationJob, type GenerationResult } from '@bgs/shared';
import { failureShownFor, runGeneration, type AttemptPorts, type CancelSignals, type GenerationOutcome } from '@bgs/server';

export interface ProcessorDeps extends AttemptPorts {
  cancels: CancelSignals;
  /** Observes how runs end: a final status, `retrying` or `handed-back` (metrics). */
  onEnd?: (ending: string) => void;
}

type Processor = (job: Job<GenerationJob, GenerationResult>, token?: string) => Promise<GenerationResult>;

/**
 * The BullMQ processor of a generation job (job id = stream id): one `runGeneration`
 * per run, its outcome told to BullMQ. A transient failure with attempts left is thrown
 * (BullMQ's backoff, then a new attempt, which clients see as `stream.reset`); a final
 * failure is an UnrecoverableError; a shutdown hands the job back to the queue.
 */
export function createGenerationProcessor(deps: ProcessorDeps): Processor {
  const runOnce = createRun(deps);
  // BullMQ renews locks per job id, and stops renewing a job's lock when any run of it
  // returns. A job that stalled (its lock lost, say in a Redis outage) can be taken again
  // by this same worker while its first run is still going; that run, superseded, must
  // not return before the newer one, or the newer run's lock expires, the job stalls a
  // second time and BullMQ fails it as "stalled more than allowable limit".
  const latestRun = new Map<string, Promise<GenerationResult>>();
  return async (job, token) => {
    const jobId = job.id ?? '';
    const run = runOnce(job, token);
    latestRun.set(jobId, run);
    try {
      return await run;
    } finally {
      if (latestRun.get(jobId) === run) latestRun.delete(jobId);
      else await newerRunsEnded(latestRun, jobId);
    }
  };
}

async function newerRunsEnded(latestRun: Map<string, Promise<unknown>>, jobId: string): Promise<void> {
  for (let newer = latestRun.get(jobId); newer; newer = latestRun.get(jobId)) await newer.then(noop, noop);
}

const noop = () => undefined;

/** One run of a job: its attempt of the stream, and the outcome BullMQ is told. */
function createRun(deps: ProcessorDeps): Processor {
  return async (job, token) => {
    const data = generationJobSchema.parse(job.data);
    const logger = deps.logger.child({ streamId: data.streamId, threadId: data.threadId, jobId: job.id });
    const control = deps.cancels.register(data.streamId);
    try {
      const mayRetry = job.attemptsMade + 1 < (job.opts.attempts ?? 1);
      const outcome = await runGeneration(data, control, { ...deps, logger }, { mayRetry });
      const ending = endingLabel(outcome);
      if (ending) deps.onEnd?.(ending);
      switch (outcome.kind) {
        case 'not-started':
          return { status: 'cancelled', attempt: 0, seq: 0, chars: 0 };
        case 'retry':
          throw outcome.failure;
        case 'superseded':
          throw new Error('superseded by a newer attempt');
        case 'handed-back':
          // Back to the wait list, so another worker starts a new attempt at once.
          await job.moveToWait(token);
          logger.info({ seq: outcome.seq }, 'worker shutting down: job handed back to the queue');
          throw new WaitingError();
        case 'ended':
          if (outcome.status === 'failed') throw new UnrecoverableError(failureShownFor(outcome.failure).message);
          return { status: outcome.status, attempt: outcome.attempt, seq: outcome.seq, chars: outcome.chars };
      }
    } finally {
      deps.cancels.release(data.streamId, control);
    }
  };
}

function endingLabel(outcome: GenerationOutcome): string | null {
  if (outcome.kind === 'ended') return outcome.applied ? outcome.status : null;
  if (outcome.kind === 'retry') return 'retrying';
  return outcome.kind === 'handed-back' ? 'handed-back' : null;
}
