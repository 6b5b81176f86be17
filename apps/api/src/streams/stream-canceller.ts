import { isTerminalStreamStatus } from '@bgs/shared';
import type { LiveStreamStore, Logger, StreamFinisher, StreamRow } from '@bgs/server';
import type { GenerationQueue } from '../generation/generation-queue';

/** Cancels in direct mode (no Redis): aborts the in-process generation. */
export interface LocalCanceller {
  cancel(streamId: string): boolean;
}

/**
 * Cancels a stream wherever it is. Running: the cancel flag plus a broadcast reach
 * whichever worker holds it, which stops the provider and ends the stream with the
 * partial text. Not running yet (queued or waiting for a retry): the job is removed
 * and the stream is ended here. Cancelling an ended stream does nothing.
 */
export class StreamCanceller {
  constructor(
    private readonly deps: {
      live: LiveStreamStore | null;
      queue: GenerationQueue | null;
      local: LocalCanceller | null;
      finisher: StreamFinisher;
      logger: Logger;
    },
  ) {}

  async cancel(stream: StreamRow): Promise<void> {
    if (isTerminalStreamStatus(stream.status)) return;
    const { live, queue, local, finisher, logger } = this.deps;
    if (local?.cancel(stream.id)) return;
    if (live) await live.requestCancel(stream.id);
    const job = queue ? await queue.removeIfNotRunning(stream.id) : 'missing';
    if (job !== 'running') {
      const snapshot = live ? await live.read(stream.id) : null;
      await finisher.finish(stream.id, {
        status: 'cancelled',
        content: snapshot?.content ?? '',
        attempt: stream.attempt,
        seq: snapshot?.seq ?? stream.seq,
      });
    }
    logger.info({ streamId: stream.id, threadId: stream.threadId, job }, 'cancel requested');
  }

  /** The stream's thread was just deleted: stop whoever runs it and tell the thread's sockets. */
  async cancelDeleted(stream: StreamRow): Promise<void> {
    if (isTerminalStreamStatus(stream.status)) return;
    const { live, queue, local, finisher, logger } = this.deps;
    if (local?.cancel(stream.id)) return;
    if (live) await live.requestCancel(stream.id);
    if (queue) await queue.removeIfNotRunning(stream.id);
    await finisher.endDeleted(stream);
    logger.info({ streamId: stream.id, threadId: stream.threadId }, 'stream of a deleted thread cancelled');
  }
}
