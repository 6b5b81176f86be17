/**
 * Asks `GET /streams/:id` about the running streams of the viewed threads that get no
 * live updates (not joined: the socket is down, or the server could not open the thread
 * yet), every `intervalMs` (a fixed cadence: the next round starts that long after the
 * previous one ended). `targets` decides what that is; threads nobody views are never
 * polled, and nothing runs when there is nothing to ask about.
 */
export class FallbackPoller {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running = false;
  private closed = false;
  private rounds = 0;

  constructor(
    private readonly options: {
      intervalMs: number;
      /** Stream ids to ask about now: the active streams of the viewed threads that are not joined. */
      targets: () => string[];
      poll: (streamId: string) => Promise<void>;
    },
  ) {}

  /** Re-reads the targets: call when a thread is viewed, joined or left, the socket goes up or down, or a stream id arrives. */
  update(): void {
    const wanted = !this.closed && this.options.targets().length > 0;
    if (wanted && !this.timer && !this.running) this.timer = setTimeout(() => void this.round(), this.options.intervalMs);
    else if (!wanted && this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private async round(): Promise<void> {
    this.timer = null;
    this.running = true;
    this.rounds++;
    try {
      // `poll` reports its own errors; one failed stream does not stop the others.
      await Promise.allSettled(this.options.targets().map((id) => this.options.poll(id)));
    } finally {
      this.running = false;
      this.update();
    }
  }

  /** Pending poll timers (0 or 1). */
  get timers(): number {
    return this.timer ? 1 : 0;
  }

  /** Rounds run so far. */
  get pollRounds(): number {
    return this.rounds;
  }

  close(): void {
    this.closed = true;
    this.update();
  }
}
