import type { Logger, Redis } from '@bgs/server';

export type AbortReason = 'cancel' | 'superseded' | 'shutdown';

/**
 * One AbortController per running stream in this process, aborted when any API
 * instance publishes a cancel (one Redis subscription per worker process, not per
 * stream) or when the worker shuts down.
 */
export class CancelSignals {
  private readonly controllers = new Map<string, AbortController>();
  private readonly onMessage = (channel: string, streamId: string) => {
    if (channel === this.channel) this.abort(streamId, 'cancel');
  };

  constructor(
    private readonly subscriber: Redis,
    private readonly channel: string,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    this.subscriber.on('message', this.onMessage);
    await this.subscriber.subscribe(this.channel);
  }

  /** The signal a stream's generation runs under; call `release` when it ends. */
  register(streamId: string): AbortController {
    const controller = new AbortController();
    this.controllers.set(streamId, controller);
    return controller;
  }

  release(streamId: string, controller: AbortController): void {
    if (this.controllers.get(streamId) === controller) this.controllers.delete(streamId);
  }

  abort(streamId: string, reason: AbortReason): void {
    const controller = this.controllers.get(streamId);
    if (controller && !controller.signal.aborted) {
      this.logger.info({ streamId, reason }, 'aborting generation');
      controller.abort(reason);
    }
  }

  abortAll(reason: AbortReason): void {
    for (const streamId of [...this.controllers.keys()]) this.abort(streamId, reason);
  }

  get size(): number {
    return this.controllers.size;
  }

  async close(): Promise<void> {
    this.subscriber.off('message', this.onMessage);
    await this.subscriber.unsubscribe(this.channel).catch(() => undefined);
  }
}
