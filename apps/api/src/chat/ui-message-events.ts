import type { UIMessageStreamWriter } from 'ai';
import type { Announcement, StreamEnd, StreamEvents } from '@bgs/server';

/**
 * A stream's events as the AI SDK's UI message stream: `start` (the assistant message id),
 * `text-start`, `text-delta`…, `text-end`, then `finish`, or an `error` chunk on failure.
 * A new attempt (`stream.reset`) closes the text part and opens a new one, since the
 * protocol only appends. `ended` resolves once the end has been written.
 */
export class UiMessageStreamEvents implements StreamEvents {
  private textId: string | null = null;
  private parts = 0;
  private finished = false;
  private resolveEnded: (status: StreamEnd['status']) => void = () => undefined;
  /** How the stream ended, once it has. */
  readonly ended$ = new Promise<StreamEnd['status']>((resolve) => (this.resolveEnded = resolve));

  constructor(
    private readonly writer: UIMessageStreamWriter,
    private readonly messageId: string,
  ) {
    writer.write({ type: 'start', messageId });
  }

  started(): Announcement {
    return this.now(() => this.openText());
  }

  reset(): Announcement {
    return this.now(() => this.newAttempt());
  }

  delta(e: Parameters<StreamEvents['delta']>[0]): Announcement {
    return this.now(() => this.text(e.text));
  }

  ended(end: StreamEnd): Announcement {
    return this.now(() => this.end(end));
  }

  /** Appends text to the answer (a frame, or what a late reader catches up with). */
  text(delta: string): void {
    this.openText();
    if (delta) this.writer.write({ type: 'text-delta', id: this.textId as string, delta });
  }

  /** A new attempt starts from empty content: the next text goes in a new part. */
  newAttempt(): void {
    this.closeText();
    this.openText();
  }

  end(end: StreamEnd): void {
    if (this.finished) return;
    this.finished = true;
    this.closeText();
    if (end.status === 'failed') this.writer.write({ type: 'error', errorText: end.error.message });
    else this.writer.write({ type: 'finish', finishReason: end.status === 'completed' ? 'stop' : 'other' });
    this.resolveEnded(end.status);
  }

  private openText(): void {
    if (this.textId) return;
    this.textId = `${this.messageId}-text-${++this.parts}`;
    this.writer.write({ type: 'text-start', id: this.textId });
  }

  private closeText(): void {
    if (!this.textId) return;
    this.writer.write({ type: 'text-end', id: this.textId });
    this.textId = null;
  }

  private now(write: () => void): Announcement {
    return { send: async () => write() };
  }
}
