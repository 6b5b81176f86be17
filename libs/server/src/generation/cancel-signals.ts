/** Why a running generation stopped early. */
export type AbortReason = 'cancel' | 'superseded' | 'shutdown';

/**
 * One AbortController per stream this process is generating, aborted when a cancel
 * reaches the process (a Redis broadcast in the worker, the in-memory live buffer in
 * direct mode) or when the process shuts down.
 */
export class CancelSignals {
  private readonly controllers = new Map<string, AbortController>();

  constructor(private readonly onAbort: (streamId: string, reason: AbortReason) => void = () => undefined) {}

  /** The signal a stream's generation runs under; call `release` when it ends. */
  register(streamId: string): AbortController {
    const controller = new AbortController();
    this.controllers.set(streamId, controller);
    return controller;
  }

  release(streamId: string, controller: AbortController): void {
    if (this.controllers.get(streamId) === controller) this.controllers.delete(streamId);
  }

  /** True while this process generates the stream. */
  has(streamId: string): boolean {
    return this.controllers.has(streamId);
  }

  abort(streamId: string, reason: AbortReason): void {
    const controller = this.controllers.get(streamId);
    if (controller && !controller.signal.aborted) {
      this.onAbort(streamId, reason);
      controller.abort(reason);
    }
  }

  abortAll(reason: AbortReason): void {
    for (const streamId of [...this.controllers.keys()]) this.abort(streamId, reason);
  }

  /** Generations running in this process. */
  get size(): number {
    return this.controllers.size;
  }
}
