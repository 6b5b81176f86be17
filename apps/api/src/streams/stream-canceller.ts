import { isTerminalStreamStatus } from '@bgs/shared';
import { endDeletedStream, endWithLiveContent, type JobRemoval, type Logger, type StreamEndPorts, type StreamRow } from '@bgs/server';

/** Where a stream's generation may be waiting: the queue in background mode, this process in direct mode. */
export interface PendingGenerations {
  removeIfNotRunning(streamId: string): Promise<JobRemoval>;
}

/**
 * Cancels a stream wherever it is. Running: the live buffer's cancel reaches whichever
 * process runs it, which stops the provider and ends the stream with the partial text.
 * Not running (queued, waiting for a retry, or lost): it is taken back and ended here.
 * Cancelling an ended stream does nothing.
 */
export class StreamCanceller {
  constructor(
    private readonly deps: {
      pending: PendingGenerations;
      ending: StreamEndPorts;
      logger: Logger;
    },
  ) {}

  async cancel(stream: StreamRow): Promise<void> {
    if (isTerminalStreamStatus(stream.status)) return;
    const { pending, ending, logger } = this.deps;
    await ending.live.requestCancel({ streamId: stream.id, threadId: stream.threadId });
    const job = await pending.removeIfNotRunning(stream.id);
    if (job !== 'running') await endWithLiveContent(ending, stream, { status: 'cancelled' });
    logger.info({ streamId: stream.id, threadId: stream.threadId, job }, 'cancel requested');
  }

  /** The stream's thread was just deleted: stop whoever runs it and tell the thread's sockets. */
  async cancelDeleted(stream: StreamRow): Promise<void> {
    if (isTerminalStreamStatus(stream.status)) return;
    const { pending, ending, logger } = this.deps;
    await ending.live.requestCancel({ streamId: stream.id, threadId: stream.threadId });
    await pending.removeIfNotRunning(stream.id);
    await endDeletedStream(ending, stream);
    logger.info({ streamId: stream.id, threadId: stream.threadId }, 'stream of a deleted thread cancelled');
  }
}
