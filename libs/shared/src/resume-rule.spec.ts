import type { StreamPosition, StreamStatus } from './api-types';
import {
  applyFrame,
  applyReset,
  applySnapshot,
  comparePositions,
  drainFrames,
  EMPTY_POSITION,
  type DeltaOutcome,
  type Frame,
} from './resume-rule';

const live = (attempt: number, seq: number, content: string, status: StreamStatus = 'streaming'): StreamPosition => ({ attempt, seq, content, status });
const frame = (attempt: number, seq: number, text: string): Frame => ({ attempt, seq, text });

describe('applyFrame (the resume rule)', () => {
  const held = live(1, 2, 'ab');
  it.each<[string, StreamPosition, Frame, DeltaOutcome, StreamPosition]>([
    ['the next frame of the same attempt', held, frame(1, 3, 'c'), 'applied', live(1, 3, 'abc')],
    ['a frame past a gap waits (ahead)', held, frame(1, 4, 'd'), 'ahead', held],
    ['a frame already held is a duplicate', held, frame(1, 2, 'b'), 'duplicate', held],
    ['an older frame is a duplicate', held, frame(1, 1, 'a'), 'duplicate', held],
    ['a frame of an older attempt is stale', held, frame(0, 3, 'x'), 'stale', held],
    ['frame 1 of a newer attempt starts it from empty content', held, frame(2, 1, 'X'), 'applied', live(2, 1, 'X')],
    ['a later frame of a newer attempt waits for its start', held, frame(2, 2, 'Y'), 'ahead', held],
    ['frame 1 applies onto nothing held', EMPTY_POSITION, frame(1, 1, 'a'), 'applied', live(1, 1, 'a')],
    ['a mid-stream frame onto nothing held waits for the snapshot', EMPTY_POSITION, frame(1, 7, 'g'), 'ahead', EMPTY_POSITION],
    ['nothing applies after completion', live(1, 2, 'ab', 'completed'), frame(1, 3, 'c'), 'stale', live(1, 2, 'ab', 'completed')],
    ['nothing applies after cancellation, not even a newer attempt', live(1, 2, 'ab', 'cancelled'), frame(2, 1, 'X'), 'stale', live(1, 2, 'ab', 'cancelled')],
    ['nothing applies after failure', live(3, 0, '', 'failed'), frame(3, 1, 'x'), 'stale', live(3, 0, '', 'failed')],
    ['a queued snapshot at seq 0 takes frame 1 and becomes streaming', live(1, 0, '', 'queued'), frame(1, 1, 'a'), 'applied', live(1, 1, 'a')],
  ])('%s', (_name, before, f, outcome, after) => {
    const r = applyFrame(before, f);
    expect(r.outcome).toBe(outcome);
    expect(r.state).toEqual(after);
  });

  it('never changes what it was given', () => {
    const before = live(1, 2, 'ab');
    const copy = { ...before };
    applyFrame(before, frame(1, 3, 'c'));
    expect(before).toEqual(copy);
  });
});

describe('applySnapshot', () => {
  it.each<[string, StreamPosition, StreamPosition, StreamPosition]>([
    ['a newer seq replaces what is held', live(1, 2, 'ab'), live(1, 5, 'abcde'), live(1, 5, 'abcde')],
    ['a stale snapshot (older seq) is ignored, content never rolls back', live(1, 5, 'abcde'), live(1, 2, 'ab'), live(1, 5, 'abcde')],
    ['a snapshot at the position held changes nothing', live(1, 2, 'ab'), live(1, 2, 'a?'), live(1, 2, 'ab')],
    ['a newer attempt replaces a longer older one', live(1, 9, 'abcdefghi'), live(2, 1, 'X'), live(2, 1, 'X')],
    ['an older attempt is ignored', live(2, 1, 'X'), live(1, 9, 'abcdefghi'), live(2, 1, 'X')],
    ['a terminal snapshot wins over live content, even at a lower seq', live(1, 9, 'abcdefghi'), live(1, 3, 'final', 'completed'), live(1, 3, 'final', 'completed')],
    ['live content never replaces a terminal state', live(1, 3, 'final', 'completed'), live(2, 8, 'newer attempt'), live(1, 3, 'final', 'completed')],
    ['a snapshot onto nothing held applies', EMPTY_POSITION, live(1, 4, 'abcd'), live(1, 4, 'abcd')],
  ])('%s', (_name, held, snapshot, after) => {
    expect(applySnapshot(held, snapshot)).toEqual(after);
  });

  it('orders views: terminal first, then attempt, then seq', () => {
    expect(comparePositions(live(1, 1, '', 'failed'), live(5, 50, ''))).toBeGreaterThan(0);
    expect(comparePositions(live(2, 1, ''), live(1, 50, ''))).toBeGreaterThan(0);
    expect(comparePositions(live(1, 3, ''), live(1, 4, ''))).toBeLessThan(0);
    expect(comparePositions(live(1, 3, 'a'), live(1, 3, 'b'))).toBe(0);
  });
});

describe('applyReset', () => {
  it.each<[string, StreamPosition, number, StreamPosition]>([
    ['a newer attempt starts from empty content', live(1, 4, 'abcd'), 2, live(2, 0, '')],
    ['a reset for the attempt already held is ignored', live(2, 3, 'xyz'), 2, live(2, 3, 'xyz')],
    ['a late reset for an older attempt is ignored', live(3, 1, 'x'), 2, live(3, 1, 'x')],
    ['a reset after the end is ignored', live(1, 4, 'done', 'completed'), 2, live(1, 4, 'done', 'completed')],
  ])('%s', (_name, held, attempt, after) => {
    expect(applyReset(held, attempt)).toEqual(after);
  });

  it('after a reset, the new attempt continues from frame 1', () => {
    const state = applyReset(live(1, 4, 'abcd'), 2);
    expect(applyFrame(state, frame(2, 1, 'X'))).toEqual({ outcome: 'applied', state: live(2, 1, 'X') });
    expect(applyFrame(state, frame(1, 5, 'e')).outcome).toBe('stale');
  });
});

describe('drainFrames', () => {
  it('applies frames that arrived before the snapshot, in order, dropping those the snapshot covers', () => {
    const waiting = [frame(1, 5, 'e'), frame(1, 3, 'c'), frame(1, 4, 'd'), frame(1, 2, 'b')];
    const r = drainFrames(live(1, 3, 'abc'), waiting);
    expect(r.state).toEqual(live(1, 5, 'abcde'));
    expect(r.waiting).toEqual([]);
  });

  it('keeps frames past a gap until the missing one arrives', () => {
    const first = drainFrames(live(1, 1, 'a'), [frame(1, 3, 'c'), frame(1, 4, 'd')]);
    expect(first.state).toEqual(live(1, 1, 'a'));
    expect(first.waiting).toEqual([frame(1, 3, 'c'), frame(1, 4, 'd')]);
    const filled = drainFrames(live(1, 2, 'ab'), first.waiting);
    expect(filled.state).toEqual(live(1, 4, 'abcd'));
    expect(filled.waiting).toEqual([]);
  });

  it('drops frames of an attempt that a newer one replaced', () => {
    const r = drainFrames(live(1, 1, 'a'), [frame(1, 3, 'c'), frame(2, 2, 'Y'), frame(2, 1, 'X')]);
    expect(r.state).toEqual(live(2, 2, 'XY'));
    expect(r.waiting).toEqual([]);
  });

  it('drops everything once the stream has ended', () => {
    const ended = live(1, 2, 'final', 'completed');
    expect(drainFrames(ended, [frame(1, 3, 'c'), frame(2, 1, 'X')])).toEqual({ state: ended, waiting: [] });
  });

  it('leaves the list it was given untouched', () => {
    const waiting = [frame(1, 3, 'c'), frame(1, 2, 'b')];
    drainFrames(live(1, 1, 'a'), waiting);
    expect(waiting).toEqual([frame(1, 3, 'c'), frame(1, 2, 'b')]);
  });

  it('any arrival order of the same frames, with duplicates, shows the same content', () => {
    const frames = 'the quick brown fox jumps'.split(' ').map((w, i) => frame(1, i + 1, `${w} `));
    const orders = [frames, [...frames].reverse(), [frames[2], frames[0], frames[4], frames[1], frames[1], frames[3], frames[0]]];
    for (const order of orders) {
      let state = EMPTY_POSITION;
      let waiting: Frame[] = [];
      for (const f of order) {
        const r = applyFrame(state, f);
        if (r.outcome === 'ahead') waiting.push(f);
        ({ state, waiting } = drainFrames(r.state, waiting));
      }
      expect(state.content).toBe('the quick brown fox jumps ');
      expect(waiting).toEqual([]);
    }
  });
});
