import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The worker's Prometheus registry: frames and tokens it emitted, how long each frame
 * flush took (one Redis round trip), how generations ended, and the notification
 * decisions it made. Every figure is this process's own; Prometheus sums the workers.
 * Fed through the hooks the processor and the decider already expose.
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly frames: Counter;
  private readonly tokens: Counter;
  private readonly chars: Counter;
  private readonly flushSeconds: Histogram;
  private readonly ended: Counter<'status'>;
  private readonly decisions: Counter<'decision'>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.frames = new Counter({ name: 'bgs_frames_emitted_total', help: 'Frames flushed to Redis (one stream.delta each)', registers });
    this.tokens = new Counter({ name: 'bgs_tokens_emitted_total', help: 'Provider tokens carried by the emitted frames', registers });
    this.chars = new Counter({ name: 'bgs_frame_chars_emitted_total', help: 'Characters carried by the emitted frames', registers });
    this.flushSeconds = new Histogram({
      name: 'bgs_frame_flush_seconds',
      help: 'Time to flush one frame (append to the live buffer + publish to the thread room)',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    });
    this.ended = new Counter({
      name: 'bgs_generations_ended_total',
      help: 'Generation attempts by how they ended: completed, cancelled, failed (for good), retrying, handed-back (shutdown)',
      labelNames: ['status'],
      registers,
    });
    this.decisions = new Counter({
      name: 'bgs_notification_decisions_total',
      help: 'Notification decisions by outcome: ai.message.received, system.warning, skipped_open, skipped_muted, skipped_cancelled',
      labelNames: ['decision'],
      registers,
    });
  }

  /** `AttemptPorts.onFrame`. */
  readonly onFrame = (tokens: number, chars: number, flushMs: number): void => {
    this.frames.inc();
    this.tokens.inc(tokens);
    this.chars.inc(chars);
    this.flushSeconds.observe(flushMs / 1000);
  };

  /** `ProcessorDeps.onEnd`. */
  readonly onEnd = (status: string): void => this.ended.inc({ status });

  /** `NotificationDecider`'s `onDecision`. */
  readonly onDecision = (decision: string): void => this.decisions.inc({ decision });

  /** Generations running in this process right now (active streams). */
  watchRunning(running: { size: number }): void {
    new Gauge({
      name: 'bgs_generations_running',
      help: 'Generations running in this worker process',
      registers: [this.registry],
      collect() {
        this.set(running.size);
      },
    });
  }
}
