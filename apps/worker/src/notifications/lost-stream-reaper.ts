import { isTerminalStreamStatus } from '@bgs/shared';
import { endWithLiveContent, type GenerationQueue, type Logger, type StreamEndPorts } from '@bgs/server';

const WORKER_LOST = { code: 'worker_lost', message: 'The answer was interrupted and could not be resumed. Please try again.' };

/**
 * Ends or resumes streams that no worker holds: a job that failed without its
 * processor ending the stream (stalled too often), or a stream whose job vanished
 * (enqueue lost, Redis data lost). Nothing stays `streaming` forever.
 */
export class LostStreamReaper {
  constructor(
    private readonly queue: GenerationQueue,
    private readonly ending: StreamEndPorts,
    private readonly logger: Logger,
  ) {}

  /** Fails an active stream whose job is over, keeping what the live buffer holds. */
  async failLostStream(streamId: string, reason: string): Promise<void> {
    const stream = await this.ending.records.get(streamId);
    if (!stream || isTerminalStreamStatus(stream.status)) return;
    const ended = await endWithLiveContent(this.ending, stream, { status: 'failed', error: WORKER_LOST });
    if (ended) this.logger.warn({ streamId, threadId: stream.threadId, attempt: stream.attempt, reason }, 'lost stream failed');
  }

  /** Checks active streams older than `olderThanMs` against their jobs. Returns how many it touched. */
  async reapActive(olderThanMs: number, limit = 200): Promise<number> {
    const candidates = await this.ending.records.activeOlderThan(olderThanMs, limit);
    let touched = 0;
    for (const stream of candidates) {
      const state = await this.queue.jobState(stream.id);
      if (state === 'completed' || state === 'failed') {
        await this.failLostStream(stream.id, `job is ${state} but the stream was not ended`);
        touched++;
      } else if (state === 'unknown') {
        // The same job options as the API's enqueue: attempts, backoff, removal once over.
        await this.queue.enqueue({ streamId: stream.id, threadId: stream.threadId, messageId: stream.messageId, userId: stream.userId, model: stream.model });
        this.logger.warn({ streamId: stream.id, threadId: stream.threadId }, 'stream had no job; enqueued it again');
        touched++;
      }
    }
    return touched;
  }
}
