import type { FrameScheduler } from './frame-scheduler';
import { ThreadStore } from './thread-store';

/** A scheduler the test runs by hand: one "animation frame" per `frame()`. */
function manualFrames() {
  const queued = new Set<() => void>();
  const scheduler: FrameScheduler = (flush) => {
    queued.add(flush);
    return () => void queued.delete(flush);
  };
  return {
    scheduler,
    frame: () => [...queued].forEach((f) => (queued.delete(f), f())),
    get pending() {
      return queued.size;
    },
  };
}

const T = 'thread-1';
const sent = {
  userMessage: { id: 'u1', threadId: T, role: 'user' as const, content: 'Hi', status: 'complete' as const, version: 0, createdAt: '2026-01-01T00:00:00.000Z' },
  assistantMessage: { id: 'a1', threadId: T, role: 'assistant' as const, content: '', status: 'streaming' as const, streamId: 's1', version: 0, createdAt: '2026-01-01T00:00:00.001Z' },
  stream: { id: 's1', threadId: T, messageId: 'a1', status: 'queued' as const, attempt: 0, seq: 0, content: '' },
};

describe('ThreadStore', () => {
  it('batches any number of events into one update per frame', () => {
    const frames = manualFrames();
    const store = new ThreadStore(frames.scheduler, (err) => {
      throw err;
    });
    store.ensure(T);
    const seen: string[] = [];
    store.subscribe(T, (s) => seen.push(s.messages.map((m) => m.content).join('|')));
    expect(seen).toEqual(['']); // the current state at once
    store.dispatch(T, { type: 'sent', result: sent });
    for (let seq = 1; seq <= 100; seq++) store.dispatch(T, { type: 'delta', streamId: 's1', attempt: 1, seq, text: 'x' });
    expect(frames.pending).toBe(1);
    expect(seen).toHaveLength(1);
    frames.frame();
    expect(seen).toEqual(['', `Hi|${'x'.repeat(100)}`]);
    frames.frame();
    expect(seen).toHaveLength(2);
  });

  it('schedules nothing for a thread nobody listens to, and nothing for an event that changes nothing', () => {
    const frames = manualFrames();
    const store = new ThreadStore(frames.scheduler, () => undefined);
    store.ensure(T);
    store.dispatch(T, { type: 'sent', result: sent });
    expect(frames.pending).toBe(0);
    const off = store.subscribe(T, () => undefined);
    store.dispatch(T, { type: 'sent', result: sent });
    expect(frames.pending).toBe(0);
    off();
    expect(store.subscriptions).toBe(0);
  });

  it('gives listeners the same state object until something changes', () => {
    const store = new ThreadStore(manualFrames().scheduler, () => undefined);
    store.ensure(T);
    const first = store.view(T);
    expect(store.view(T)).toBe(first);
    store.dispatch(T, { type: 'sent', result: sent });
    expect(store.view(T)).not.toBe(first);
  });

  it('a listener that throws is reported and does not stop the others', () => {
    const frames = manualFrames();
    const errors: unknown[] = [];
    const store = new ThreadStore(frames.scheduler, (err) => errors.push(err));
    store.ensure(T);
    let calls = 0;
    store.subscribe(T, () => {
      throw new Error('render failed');
    });
    store.subscribe(T, () => void calls++);
    store.dispatch(T, { type: 'sent', result: sent });
    frames.frame();
    expect(calls).toBe(2);
    expect(errors).toHaveLength(2);
  });

  it('close cancels the scheduled update and drops every listener', () => {
    const frames = manualFrames();
    const store = new ThreadStore(frames.scheduler, () => undefined);
    store.ensure(T);
    store.subscribe(T, () => undefined);
    store.dispatch(T, { type: 'sent', result: sent });
    expect(store.scheduled).toBe(1);
    store.close();
    expect(frames.pending).toBe(0);
    expect(store.subscriptions).toBe(0);
  });
});
