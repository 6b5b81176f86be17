import { msAgo, Prisma, TERMINAL_STATUSES_SQL, type Logger, type SqlRunner } from '@bgs/server';
import type { NotificationDecider } from './notification-decider';
import type { LostStreamReaper } from './lost-stream-reaper';

export interface SweepOptions {
  intervalMs: number;
  /**
   * An ended stream is left to the event listener this long before the sweep decides it,
   * and a notification to the listener that created it this long before the sweep pushes it.
   */
  decideAfterMs: number;
  /** A stream active this long is checked against its job. */
  reapAfterMs: number;
}

/**
 * The safety net under the event listener: decides ended streams that have no
 * notification decision (events dropped, listener down), pushes notifications whose push
 * was lost (listener killed between commit and push, Redis refused it), and reaps lost
 * streams.
 */
export class StreamSweep {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly sql: SqlRunner,
    private readonly decider: NotificationDecider,
    private readonly reaper: LostStreamReaper,
    private readonly options: SweepOptions,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.runOnce(), this.options.intervalMs);
    this.timer.unref();
    void this.runOnce();
  }

  /** One pass; concurrent calls share the pass in progress. */
  runOnce(): Promise<void> {
    this.running ??= this.pass()
      .catch((err: Error) => this.logger.error({ err: err.message }, 'sweep failed; will retry'))
      .finally(() => (this.running = null));
    return this.running;
  }

  private async pass(): Promise<void> {
    const undecided = await this.sql.query<{ id: string }>(Prisma.sql`
      SELECT id FROM streams
      WHERE status IN (${TERMINAL_STATUSES_SQL}) AND notification_decision IS NULL
        AND ended_at < ${msAgo(this.options.decideAfterMs)}
      ORDER BY ended_at LIMIT 500`);
    let decided = 0;
    try {
      const results = await this.decider.decideMany(undecided.map((s) => s.id), 'sweep');
      for (const result of results.values()) if (result === 'notified' || result === 'skipped') decided++;
    } catch (err) {
      this.logger.error({ streams: undecided.length, err: (err as Error).message }, 'sweep could not decide notifications; will retry');
    }
    let pushed = 0;
    try {
      pushed = await this.decider.pushUnpushed(this.options.decideAfterMs);
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, 'sweep could not push unpushed notifications; will retry');
    }
    const reaped = await this.reaper.reapActive(this.options.reapAfterMs);
    if (decided || pushed || reaped) this.logger.info({ decided, pushed, reaped }, 'sweep');
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
