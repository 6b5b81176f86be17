import {
  applyFrame,
  applyReset,
  applySnapshot,
  isTerminalStreamStatus,
  type Frame,
  type StreamCancelledEvent,
  type StreamCompletedEvent,
  type StreamDeltaEvent,
  type StreamFailedEvent,
  type StreamResetEvent,
  type StreamStatus,
  type TerminalStreamStatus,
  type ThreadOpenAck,
} from '@bgs/shared';
import type { TestSocket } from './sockets';

/** What a client holds of one stream: the content of `attempt` up to frame `seq` (the resume rule's own type). */
export type HeldContent = Parameters<typeof applyFrame>[0];

/** Nothing held yet. */
const NOTHING_HELD: HeldContent = { attempt: 0, seq: 0, content: '', status: 'queued' };

/**
 * One change of what the client shows for a stream; `text` is the whole content shown
 * after it (never the final message put over it).
 */
export type FollowedStep =
  /** A `thread.open` snapshot that was newer than what was held, so the client shows it. */
  | { kind: 'snapshot'; attempt: number; seq: number; text: string; status: StreamStatus }
  /** `stream.reset`: attempt `attempt` starts from empty content. */
  | { kind: 'reset'; attempt: number; seq: 0; text: '' }
  /** Frame `seq` of `attempt` applied; `delta` is what the frame carried, `waited` whether it arrived ahead and waited. */
  | { kind: 'frame'; attempt: number; seq: number; text: string; delta: string; waited: boolean };

/** The final event of a stream: `stream.completed` carries the stored message, the others none. */
export interface FollowedFinal {
  status: TerminalStreamStatus;
  /** The final message's content (`stream.completed` only). */
  content?: string;
  error?: { code: string; message: string };
}

export interface FollowedStream {
  /** What the client holds: built from snapshots, resets and frames only. */
  state: HeldContent;
  /** Every change of what the client showed, in order. */
  steps: FollowedStep[];
  /** Frames that arrived ahead (past a gap, or before the snapshot) and had to wait, in arrival order. */
  waited: Array<{ attempt: number; seq: number }>;
  /** Frames still waiting for the frames or a snapshot before them. */
  waiting: Frame[];
  /** Frames delivered again after the same (attempt, seq) had been applied or was already waiting. */
  duplicates: number;
  /** Frames a snapshot already held when they arrived (or when they were waiting): not applied, not shown twice. */
  covered: number;
  /** Frames of an older attempt than the one held, or of a stream the client already shows as ended. */
  stale: number;
  /** Frames that arrived after the stream's final event (none should). */
  afterFinal: Array<{ attempt: number; seq: number }>;
  /** The final event, recorded apart from the content assembled from frames. */
  final?: FollowedFinal;
}

type Waiter = { streamId: string; check: () => boolean };

const key = (f: { attempt: number; seq: number }) => `${f.attempt}:${f.seq}`;

/**
 * What a chat app applies from one thread's events, by the resume rule (docs/protocol.md#resume-rule),
 * recorded step by step: frames that arrive before the snapshot (or past a gap) wait,
 * then apply in order; a frame applies only at the held attempt, one past the held seq;
 * `stream.reset` starts a new attempt from empty content; a newer `thread.open`
 * snapshot replaces what is held. The final event is recorded apart and never replaces
 * the content, so a test can compare what the frames assembled with the final message.
 */
export class ThreadFollower {
  readonly streams = new Map<string, FollowedStream>();
  private readonly listeners: Array<[string, (...a: any[]) => void]> = [];
  private readonly waiters = new Set<Waiter>();
  /** Per stream, the frames already applied or waiting, to tell a second delivery from a covered one. */
  private readonly seen = new Map<string, Set<string>>();

  constructor(
    private readonly socket: TestSocket,
    readonly threadId: string,
  ) {
    this.on('stream.delta', (e: StreamDeltaEvent) => e.threadId === threadId && this.frame(e));
    this.on('stream.reset', (e: StreamResetEvent) => e.threadId === threadId && this.reset(e.streamId, e.attempt));
    this.on('stream.completed', (e: StreamCompletedEvent) => e.threadId === threadId && this.end(e.streamId, { status: 'completed', content: e.message.content }));
    this.on('stream.failed', (e: StreamFailedEvent) => e.threadId === threadId && this.end(e.streamId, { status: 'failed', error: e.error }));
    this.on('stream.cancelled', (e: StreamCancelledEvent) => e.threadId === threadId && this.end(e.streamId, { status: 'cancelled' }));
  }

  private on(event: string, fn: (...a: any[]) => void) {
    this.socket.on(event as never, fn as never);
    this.listeners.push([event, fn]);
  }

  private get(streamId: string): FollowedStream {
    let f = this.streams.get(streamId);
    if (!f) {
      f = { state: NOTHING_HELD, steps: [], waited: [], waiting: [], duplicates: 0, covered: 0, stale: 0, afterFinal: [] };
      this.streams.set(streamId, f);
    }
    return f;
  }

  private seenOf(streamId: string): Set<string> {
    let s = this.seen.get(streamId);
    if (!s) this.seen.set(streamId, (s = new Set()));
    return s;
  }

  private frame(e: StreamDeltaEvent) {
    const f = this.get(e.streamId);
    const seen = this.seenOf(e.streamId);
    if (f.final) f.afterFinal.push({ attempt: e.attempt, seq: e.seq });
    else if (seen.has(key(e))) f.duplicates++;
    else {
      const r = applyFrame(f.state, e);
      if (r.outcome === 'applied') {
        seen.add(key(e));
        f.state = r.state;
        f.steps.push({ kind: 'frame', attempt: e.attempt, seq: e.seq, text: r.state.content, delta: e.text, waited: false });
        this.drain(f);
      } else if (r.outcome === 'ahead') {
        seen.add(key(e));
        f.waited.push({ attempt: e.attempt, seq: e.seq });
        f.waiting.push({ attempt: e.attempt, seq: e.seq, text: e.text });
      } else if (r.outcome === 'duplicate') f.covered++;
      else f.stale++;
    }
    this.changed(e.streamId);
  }

  private reset(streamId: string, attempt: number) {
    const f = this.get(streamId);
    const state = applyReset(f.state, attempt);
    if (state !== f.state) {
      f.state = state;
      f.steps.push({ kind: 'reset', attempt: state.attempt, seq: 0, text: '' });
      this.drain(f);
    }
    this.changed(streamId);
  }

  private end(streamId: string, final: FollowedFinal) {
    const f = this.get(streamId);
    // The first final event counts; the content held stays what the frames assembled.
    if (!f.final) f.final = final;
    this.changed(streamId);
  }

  /** Applies, one step each, the waiting frames that now fit; drops those a snapshot or newer attempt made useless. */
  private drain(f: FollowedStream) {
    for (let progressed = true; progressed; ) {
      progressed = false;
      const rest: Frame[] = [];
      for (const frame of [...f.waiting].sort((a, b) => a.attempt - b.attempt || a.seq - b.seq)) {
        const r = applyFrame(f.state, frame);
        if (r.outcome === 'applied') {
          f.state = r.state;
          f.steps.push({ kind: 'frame', attempt: frame.attempt, seq: frame.seq, text: r.state.content, delta: frame.text, waited: true });
          progressed = true;
        } else if (r.outcome === 'ahead') rest.push(frame);
        else if (r.outcome === 'duplicate') f.covered++;
        else f.stale++;
      }
      f.waiting = rest;
    }
  }

  /** Applies a `thread.open` ack: each snapshot newer than what is held is a step; waiting frames then apply. */
  snapshot(ack: ThreadOpenAck): void {
    if (!ack.ok) throw new Error(`thread.open failed: ${ack.error.code}`);
    for (const s of ack.streams) {
      const f = this.get(s.streamId);
      const state = applySnapshot(f.state, { attempt: s.attempt, seq: s.seq, content: s.content, status: s.status });
      if (state !== f.state) {
        f.state = state;
        f.steps.push({ kind: 'snapshot', attempt: state.attempt, seq: state.seq, text: state.content, status: state.status });
        this.drain(f);
      }
      this.changed(s.streamId);
    }
  }

  /**
   * Continues what `previous` (now detached) showed, as a chat app keeps its view across
   * a reconnect: the streams and their steps carry on here.
   */
  takeOver(previous: ThreadFollower): this {
    previous.detach();
    for (const [id, f] of previous.streams) this.streams.set(id, f);
    for (const [id, s] of previous.seen) this.seen.set(id, s);
    return this;
  }

  /** The stream as followed so far; throws when nothing of it ever arrived. */
  stream(streamId: string): FollowedStream {
    const f = this.streams.get(streamId);
    if (!f) throw new Error(`thread ${this.threadId}: nothing of stream ${streamId} was followed`);
    return f;
  }

  /** The content assembled from snapshots, resets and frames (never the final message put over it). */
  content(streamId: string): string {
    return this.streams.get(streamId)?.state.content ?? '';
  }

  /** How the client knows the stream ended: its final event, else a snapshot of the ended stream. */
  ended(streamId: string): TerminalStreamStatus | undefined {
    const f = this.streams.get(streamId);
    if (!f) return undefined;
    if (f.final) return f.final.status;
    return isTerminalStreamStatus(f.state.status) ? f.state.status : undefined;
  }

  /** Resolves with the stream once `match` holds (now, or after a later event or snapshot). */
  until(streamId: string, match: (f: FollowedStream) => boolean, what: string, timeoutMs = 20_000): Promise<FollowedStream> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        streamId,
        check: () => {
          const f = this.streams.get(streamId);
          if (!f || !match(f)) return false;
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(f);
          return true;
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no ${what} for ${streamId} within ${timeoutMs} ms: ${describeFollowed(this.streams.get(streamId))}`));
      }, timeoutMs);
      if (!waiter.check()) this.waiters.add(waiter);
    });
  }

  /**
   * Resolves once the client shows the stream as ended with nothing left to apply: its
   * final event (or a snapshot of the ended stream) arrived and, for a completed stream,
   * what the client assembled is the final message (a later snapshot may still fill a gap).
   */
  untilShownFinal(streamId: string, timeoutMs = 20_000): Promise<FollowedStream> {
    return this.until(
      streamId,
      (f) => {
        if (f.waiting.length > 0) return false;
        if (f.final) return f.final.status !== 'completed' || f.state.content === f.final.content || isTerminalStreamStatus(f.state.status);
        return isTerminalStreamStatus(f.state.status);
      },
      'final answer shown',
      timeoutMs,
    );
  }

  private changed(streamId: string) {
    for (const w of [...this.waiters]) if (w.streamId === streamId) w.check();
  }

  /** Stops listening (a thread switch in a real client releases its listeners too). */
  detach(): void {
    for (const [event, fn] of this.listeners) this.socket.off(event as never, fn as never);
    this.listeners.length = 0;
  }
}

/** A short account of a followed stream for failure messages. */
export function describeFollowed(f: FollowedStream | undefined): string {
  if (!f) return 'nothing followed';
  const steps = f.steps.map((s) => `${s.kind}(${s.attempt}:${s.seq}${s.kind === 'snapshot' ? ` ${s.status}` : ''}, ${s.text.length} chars)`);
  return JSON.stringify({
    steps,
    waiting: f.waiting.map(key),
    duplicates: f.duplicates,
    covered: f.covered,
    stale: f.stale,
    afterFinal: f.afterFinal.map(key),
    final: f.final && { ...f.final, content: f.final.content === undefined ? undefined : `${f.final.content.length} chars` },
    held: { attempt: f.state.attempt, seq: f.state.seq, status: f.state.status, chars: f.state.content.length },
  });
}
