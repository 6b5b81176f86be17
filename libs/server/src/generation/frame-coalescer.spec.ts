import { FrameCoalescer } from './frame-coalescer';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('FrameCoalescer', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('sends the tokens of one frame interval as one frame', async () => {
    const frames: string[] = [];
    const c = new FrameCoalescer({ frameMs: 50, maxChars: 1000 }, async (t) => void frames.push(t));
    c.push('a');
    c.push(' b');
    jest.advanceTimersByTime(49);
    expect(frames).toEqual([]);
    c.push(' c');
    jest.advanceTimersByTime(1);
    await c.drain();
    expect(frames).toEqual(['a b c']);
  });

  it('flushes at once when a frame grows past maxChars', async () => {
    const frames: string[] = [];
    const c = new FrameCoalescer({ frameMs: 50, maxChars: 4 }, async (t) => void frames.push(t));
    c.push('ab');
    c.push('cd');
    await Promise.resolve();
    expect(frames).toEqual(['abcd']);
    c.push('e');
    await c.drain();
    expect(frames).toEqual(['abcd', 'e']);
  });

  it('puts tokens that arrive during a slow flush into a single next frame', async () => {
    const frames: string[] = [];
    const gate = deferred();
    const c = new FrameCoalescer({ frameMs: 10, maxChars: 1000 }, async (t) => {
      frames.push(t);
      if (frames.length === 1) await gate.promise;
    });
    c.push('1');
    jest.advanceTimersByTime(10);
    for (let i = 2; i <= 5; i++) {
      c.push(String(i));
      jest.advanceTimersByTime(10);
    }
    expect(frames).toEqual(['1']);
    gate.resolve();
    await c.drain();
    expect(frames).toEqual(['1', '2345']);
  });

  it('never leaves a timer behind after drain or discard', async () => {
    const c = new FrameCoalescer({ frameMs: 50, maxChars: 1000 }, async () => undefined);
    c.push('x');
    await c.drain();
    expect(jest.getTimerCount()).toBe(0);
    c.push('y');
    c.discard();
    expect(jest.getTimerCount()).toBe(0);
  });

  it('rethrows a failed flush on the next push and on drain', async () => {
    const c = new FrameCoalescer({ frameMs: 5, maxChars: 1 }, async () => {
      throw new Error('redis down');
    });
    c.push('a');
    await expect(c.drain()).rejects.toThrow('redis down');
    expect(() => c.push('b')).toThrow('redis down');
  });

  it('empty tokens start no frame', async () => {
    const frames: string[] = [];
    const c = new FrameCoalescer({ frameMs: 5, maxChars: 10 }, async (t) => void frames.push(t));
    c.push('');
    expect(jest.getTimerCount()).toBe(0);
    await c.drain();
    expect(frames).toEqual([]);
  });
});
