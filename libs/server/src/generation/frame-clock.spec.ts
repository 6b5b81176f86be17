import { FrameClock } from './frame-clock';
import { FrameCoalescer } from './frame-coalescer';

describe('FrameClock', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('flushes the frames of every stream on one tick, with one timer for all of them', async () => {
    const clock = new FrameClock(50);
    const frames: string[] = [];
    const streams = Array.from({ length: 100 }, (_, i) => new FrameCoalescer({ frameMs: 50, maxChars: 1000 }, async (t) => void frames.push(`${i}:${t}`), clock));
    streams.forEach((s, i) => s.push(`token${i}`));
    expect(jest.getTimerCount()).toBe(1);
    expect(clock.pending).toBe(100);
    jest.advanceTimersByTime(50);
    await Promise.all(streams.map((s) => s.drain()));
    expect(frames).toHaveLength(100);
    expect(frames[7]).toBe('7:token7');
  });

  it('a token waits at most one tick', async () => {
    const clock = new FrameClock(50);
    const frames: string[] = [];
    const a = new FrameCoalescer({ frameMs: 50, maxChars: 1000 }, async (t) => void frames.push(t), clock);
    const b = new FrameCoalescer({ frameMs: 50, maxChars: 1000 }, async (t) => void frames.push(t), clock);
    a.push('a');
    jest.advanceTimersByTime(40);
    b.push('b'); // joins the tick already running: flushed 10 ms later, not 50
    jest.advanceTimersByTime(10);
    await Promise.resolve();
    expect(frames).toEqual(['a', 'b']);
  });

  it('stops its interval when no frame waits, and starts it again for the next token', async () => {
    const clock = new FrameClock(50);
    const c = new FrameCoalescer({ frameMs: 50, maxChars: 1000 }, async () => undefined, clock);
    c.push('x');
    jest.advanceTimersByTime(50);
    await c.drain();
    expect(jest.getTimerCount()).toBe(0);
    c.push('y');
    expect(jest.getTimerCount()).toBe(1);
    c.discard();
    expect(jest.getTimerCount()).toBe(0);
  });
});
