import { isTerminalStreamStatus, type StreamPosition, type StreamRef, type TerminalStreamStatus } from '@bgs/shared';
import type { Announcement } from '../events/stream-events';
import type { FrameOutcome, LiveBuffer } from './live-buffer';

interface Entry extends StreamPosition {
  cancel: boolean;
}

/** A stream the buffer has not seen start: no attempt yet. */
const notStarted = (cancel = false): Entry => ({ attempt: 0, seq: 0, status: 'queued', content: '', cancel });

/**
 * The live buffer in this process's memory, for direct mode (no Redis, one instance):
 * the same rules as the Redis one. A cancel reaches the generation through
 * `onCancelRequested`; an ended stream is forgotten `endedTtlMs` later (Postgres has it).
 */
export class MemoryLiveBuffer implements LiveBuffer {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly options: { endedTtlMs: number; onCancelRequested: (streamId: string) => void },
  ) {}

  async beginAttempt({ streamId }: StreamRef): Promise<{ attempt: number; cancelled: boolean } | null> {
    const entry = this.entries.get(streamId) ?? notStarted();
    if (isTerminalStreamStatus(entry.status)) return null;
    this.entries.set(streamId, { ...entry, attempt: entry.attempt + 1, seq: 0, status: 'streaming', content: '' });
    return { attempt: entry.attempt + 1, cancelled: entry.cancel };
  }

  async appendFrame({ streamId }: StreamRef, attempt: number, seq: number, text: string, delta: Announcement): Promise<FrameOutcome> {
    const entry = this.entries.get(streamId);
    if (!entry || entry.attempt !== attempt) return 'superseded';
    if (seq > entry.seq) {
      entry.content += text;
      entry.seq = seq;
      await delta.send();
    }
    return entry.cancel ? 'cancel-requested' : 'appended';
  }

  async finish({ streamId }: StreamRef, status: TerminalStreamStatus, seq: number | null, ended: Announcement): Promise<boolean> {
    const entry = this.entries.get(streamId) ?? notStarted();
    if (isTerminalStreamStatus(entry.status)) return false;
    this.entries.set(streamId, { ...entry, status, seq: seq ?? entry.seq });
    setTimeout(() => this.entries.delete(streamId), this.options.endedTtlMs).unref();
    await ended.send();
    return true;
  }

  async requestCancel({ streamId }: StreamRef): Promise<void> {
    const entry = this.entries.get(streamId);
    if (entry) entry.cancel = true;
    else this.entries.set(streamId, notStarted(true));
    this.options.onCancelRequested(streamId);
  }

  async read({ streamId }: StreamRef): Promise<StreamPosition | null> {
    const entry = this.entries.get(streamId);
    return entry ? { attempt: entry.attempt, seq: entry.seq, status: entry.status, content: entry.content } : null;
  }
}
