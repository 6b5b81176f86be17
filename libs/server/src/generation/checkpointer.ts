import type { Logger } from '../logging/logger';
import type { StreamRecords } from '../streams/stream-records';

/**
 * Saves a running stream's content to Postgres at most once per `checkpointMs` and with
 * at most one write in flight, so a reader that finds no live buffer still sees recent
 * text. A failed checkpoint is logged, not fatal: the live buffer still holds the content.
 */
export class Checkpointer {
  private last = Date.now();
  private inFlight: Promise<unknown> | null = null;

  constructor(
    private readonly records: StreamRecords,
    private readonly target: { messageId: string; attempt: number },
    private readonly checkpointMs: number,
    private readonly logger: Logger,
  ) {}

  /** Called after each frame: `content` is what frames 1..`seq` carried, so content and seq agree. */
  maybe(seq: number, content: string): void {
    if (this.inFlight || Date.now() - this.last < this.checkpointMs) return;
    this.last = Date.now();
    this.inFlight = this.records
      .checkpoint(this.target.messageId, content, this.target.attempt, seq)
      .catch((err: Error) => this.logger.warn({ err: err.message, seq }, 'checkpoint failed; the live buffer still holds the content'))
      .finally(() => (this.inFlight = null));
  }

  async settle(): Promise<void> {
    await this.inFlight;
  }
}
