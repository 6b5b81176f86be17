export interface FrameTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: FrameTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/**
 * Coalesces tokens into frames: a frame is flushed `frameMs` after its first token,
 * or at once when it reaches `maxChars`. Flushes run one at a time, in order; tokens
 * that arrive during a slow flush join one next frame, which is the backpressure.
 * A failed flush is rethrown by the next `push` or by `drain`.
 */
export class FrameCoalescer {
  private buffer = '';
  /** When the oldest token of the buffered frame arrived: the frame's latency starts there. */
  private bufferSince = 0;
  private timer: unknown = null;
  private inFlight: Promise<void> = Promise.resolve();
  private flushing = false;
  private flushRequested = false;
  private failure: unknown = null;

  constructor(
    private readonly options: { frameMs: number; maxChars: number },
    private readonly flush: (text: string, firstTokenAt: number) => Promise<void>,
    private readonly timers: FrameTimers = realTimers,
    private readonly now: () => number = Date.now,
  ) {}

  push(token: string): void {
    if (this.failure) throw this.failure;
    if (token === '') return;
    if (this.buffer === '') this.bufferSince = this.now();
    this.buffer += token;
    if (this.buffer.length >= this.options.maxChars) this.flushNow();
    else if (this.timer === null) this.timer = this.timers.setTimeout(() => this.flushNow(), this.options.frameMs);
  }

  /** Flushes what is buffered and waits for every flush to finish. */
  async drain(): Promise<void> {
    this.flushNow();
    await this.inFlight;
    if (this.failure) throw this.failure;
  }

  /** Drops what is buffered without flushing (the generation was abandoned). */
  discard(): void {
    this.cancelTimer();
    this.buffer = '';
  }

  private flushNow(): void {
    this.cancelTimer();
    if (this.flushing) {
      this.flushRequested = true;
      return;
    }
    if (this.buffer === '') return;
    this.flushing = true;
    this.inFlight = this.flushLoop();
  }

  /** Sends frames one at a time; what arrived meanwhile goes in one next frame, not many. */
  private async flushLoop(): Promise<void> {
    try {
      do {
        this.flushRequested = false;
        const text = this.buffer;
        const since = this.bufferSince;
        this.buffer = '';
        try {
          await this.flush(text, since);
        } catch (err) {
          this.failure = err;
        }
      } while (this.flushRequested && this.buffer !== '' && !this.failure);
    } finally {
      this.flushing = false;
    }
  }

  private cancelTimer(): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
  }
}
