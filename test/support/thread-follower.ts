import {
  applyFrame,
  applyReset,
  applySnapshot,
  drainFrames,
  EMPTY_LIVE_CONTENT,
  type Frame,
  type LiveContent,
  type StreamDeltaEvent,
  type ThreadOpenAck,
} from '@bgs/shared';
import type { TestSocket } from './sockets';

interface Followed {
  state: LiveContent;
  waiting: Frame[];
  /** Every frame applied, in order: a gap or duplicate would show here. */
  applied: Array<{ attempt: number; seq: number }>;
  duplicates: number;
}

/**
 * What a chat app does with one thread's events, by the contract's resume rule:
 * frames that arrive before the snapshot wait, then apply in order; a frame applies
 * only at attempt + seq one past what is held. Tests compare what it shows.
 */
export class ThreadFollower {
  readonly streams = new Map<string, Followed>();
  private readonly listeners: Array<[string, (...a: any[]) => void]> = [];

  constructor(
    private readonly socket: TestSocket,
    readonly threadId: string,
  ) {
    this.on('stream.delta', (e: StreamDeltaEvent) => e.threadId === threadId && this.frame(e));
    this.on('stream.reset', (e: { threadId: string; streamId: string; attempt: number }) => {
      if (e.threadId !== threadId) return;
      const f = this.get(e.streamId);
      f.state = applyReset(f.state, e.attempt);
      this.drain(f);
    });
    this.on('stream.completed', (e: { threadId: string; streamId: string; message: { content: string } }) => {
      if (e.threadId !== threadId) return;
      const f = this.get(e.streamId);
      f.state = applySnapshot(f.state, { ...f.state, status: 'completed', content: e.message.content });
    });
  }

  private on(event: string, fn: (...a: any[]) => void) {
    this.socket.on(event as never, fn as never);
    this.listeners.push([event, fn]);
  }

  private get(streamId: string): Followed {
    let f = this.streams.get(streamId);
    if (!f) this.streams.set(streamId, (f = { state: EMPTY_LIVE_CONTENT, waiting: [], applied: [], duplicates: 0 }));
    return f;
  }

  private frame(e: StreamDeltaEvent) {
    const f = this.get(e.streamId);
    const r = applyFrame(f.state, e);
    if (r.outcome === 'applied') {
      f.state = r.state;
      f.applied.push({ attempt: e.attempt, seq: e.seq });
      this.drain(f);
    } else if (r.outcome === 'ahead') f.waiting.push(e);
    else if (r.outcome === 'duplicate') f.duplicates++;
  }

  private drain(f: Followed) {
    const before = f.state.seq;
    const beforeAttempt = f.state.attempt;
    const r = drainFrames(f.state, f.waiting);
    if (r.state.attempt === beforeAttempt) for (let s = before + 1; s <= r.state.seq; s++) f.applied.push({ attempt: r.state.attempt, seq: s });
    f.state = r.state;
    f.waiting = r.waiting;
  }

  /** Applies a `thread.open` ack (its snapshot wins only where it is newer). */
  snapshot(ack: ThreadOpenAck): void {
    if (!ack.ok) throw new Error(`thread.open failed: ${ack.error.code}`);
    for (const s of ack.streams) {
      const f = this.get(s.streamId);
      f.state = applySnapshot(f.state, { attempt: s.attempt, seq: s.seq, content: s.content, status: s.status });
      this.drain(f);
    }
  }

  content(streamId: string): string {
    return this.streams.get(streamId)?.state.content ?? '';
  }

  /** Stops listening (a thread switch in a real client releases its listeners too). */
  detach(): void {
    for (const [event, fn] of this.listeners) this.socket.off(event as never, fn as never);
    this.listeners.length = 0;
  }
}
