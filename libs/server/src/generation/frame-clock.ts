import type { FrameTimers } from './frame-coalescer';

/**
 * One clock for every stream of a process: frames are flushed on its tick, every
 * `frameMs`, instead of one timer per frame per stream. At hundreds of streams that is
 * 20 timer callbacks a second instead of thousands, the flushes of one tick leave
 * together (one socket write with auto-pipelining), and a token waits half a frame on
 * average instead of a whole one. The interval runs only while a frame is waiting.
 */
export class FrameClock implements FrameTimers {
  private readonly waiting = new Set<() => void>();
  private interval: NodeJS.Timeout | null = null;

  constructor(private readonly frameMs: number) {}

  /** Runs `fn` at the next tick (the delay argument is the clock's own). */
  setTimeout(fn: () => void): unknown {
    const entry = () => fn();
    this.waiting.add(entry);
    this.interval ??= setInterval(() => this.tick(), this.frameMs);
    return entry;
  }

  clearTimeout(handle: unknown): void {
    this.waiting.delete(handle as () => void);
    if (this.waiting.size === 0) this.stop();
  }

  /** Frames waiting for the next tick. */
  get pending(): number {
    return this.waiting.size;
  }

  private tick(): void {
    const due = [...this.waiting];
    this.waiting.clear();
    for (const fn of due) fn();
    if (this.waiting.size === 0) this.stop();
  }

  private stop(): void {
    if (this.interval) clearInterval(this.interval);
    this.interval = null;
  }
}
