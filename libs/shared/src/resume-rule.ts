import { isTerminalStreamStatus, type StreamPosition } from './api-types';

export interface Frame {
  attempt: number;
  seq: number;
  text: string;
}

/** `ahead`: a frame past a gap; keep it until the missing frames or a snapshot arrive. */
export type DeltaOutcome = 'applied' | 'duplicate' | 'ahead' | 'stale';

export const EMPTY_POSITION: StreamPosition = { attempt: 0, seq: 0, content: '', status: 'queued' };

/** Orders two views of a stream: a final state beats a live one, then attempt, then seq. */
export function comparePositions(a: StreamPosition, b: StreamPosition): number {
  const terminalA = isTerminalStreamStatus(a.status) ? 1 : 0;
  const terminalB = isTerminalStreamStatus(b.status) ? 1 : 0;
  return terminalA - terminalB || a.attempt - b.attempt || a.seq - b.seq;
}

/**
 * The resume rule: a frame is applied only when it belongs to the attempt held
 * and is exactly one past the held seq. Frame 1 of a newer attempt also applies,
 * since it starts that attempt from empty content (as `stream.reset` would).
 */
export function applyFrame(held: StreamPosition, frame: Frame): { state: StreamPosition; outcome: DeltaOutcome } {
  if (isTerminalStreamStatus(held.status) || frame.attempt < held.attempt) return { state: held, outcome: 'stale' };
  if (frame.attempt > held.attempt) {
    if (frame.seq !== 1) return { state: held, outcome: 'ahead' };
    return { state: { attempt: frame.attempt, seq: 1, content: frame.text, status: 'streaming' }, outcome: 'applied' };
  }
  if (frame.seq <= held.seq) return { state: held, outcome: 'duplicate' };
  if (frame.seq > held.seq + 1) return { state: held, outcome: 'ahead' };
  return {
    state: { attempt: held.attempt, seq: frame.seq, content: held.content + frame.text, status: 'streaming' },
    outcome: 'applied',
  };
}

/** A snapshot replaces what is held only when it is newer, so a stale one never rolls content back. */
export function applySnapshot(held: StreamPosition, snapshot: StreamPosition): StreamPosition {
  return comparePositions(snapshot, held) > 0 ? snapshot : held;
}

/** `stream.reset`: a newer attempt starts from empty content. */
export function applyReset(held: StreamPosition, attempt: number): StreamPosition {
  if (isTerminalStreamStatus(held.status) || attempt <= held.attempt) return held;
  return { attempt, seq: 0, content: '', status: 'streaming' };
}

/**
 * Applies what fits from frames that arrived early (before a snapshot, or past a gap),
 * returning the new state and the frames still waiting.
 */
export function drainFrames(held: StreamPosition, waiting: Frame[]): { state: StreamPosition; waiting: Frame[] } {
  let state = held;
  let rest = [...waiting].sort((a, b) => a.attempt - b.attempt || a.seq - b.seq);
  for (let progressed = true; progressed; ) {
    progressed = false;
    const next: Frame[] = [];
    for (const frame of rest) {
      const r = applyFrame(state, frame);
      if (r.outcome === 'applied') {
        state = r.state;
        progressed = true;
      } else if (r.outcome === 'ahead') next.push(frame);
    }
    rest = next;
  }
  return { state, waiting: rest };
}
