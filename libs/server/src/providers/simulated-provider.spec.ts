import { getEventListeners } from 'node:events';
import { ProviderError, ProviderRequest } from './provider';
import { createSimulatedProvider, parseSimDirective, simulatedAnswer } from './simulated-provider';

function request(content: string, overrides: Partial<ProviderRequest> = {}): ProviderRequest {
  return {
    model: 'simulated-1',
    messages: [{ role: 'user', content }],
    attempt: 1,
    signal: new AbortController().signal,
    ...overrides,
  };
}

/** A fast provider so real-time tests finish in milliseconds. */
const fast = createSimulatedProvider({ tokens: 30, tokensPerSecond: 1_000_000 });

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const token of iterable) out.push(token);
  return out;
}

/** Consumes in the background so fake-timer tests can advance time and look at what arrived. */
function consume(iterable: AsyncIterable<string>): { tokens: string[]; done: Promise<unknown> } {
  const tokens: string[] = [];
  const done = (async () => {
    for await (const token of iterable) tokens.push(token);
  })().then(
    () => 'returned',
    (error: unknown) => error,
  );
  return { tokens, done };
}

async function rejection(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ProviderError) return error;
    throw error;
  }
  throw new Error('expected a ProviderError');
}

describe('simulatedAnswer', () => {
  it('is deterministic for the same content and differs for different content', () => {
    expect(simulatedAnswer('hello there', 40)).toEqual(simulatedAnswer('hello there', 40));
    expect(simulatedAnswer('hello there', 40)).not.toEqual(simulatedAnswer('hello there!', 40));
  });

  it('returns exactly the requested number of space-joined word tokens', () => {
    const tokens = simulatedAnswer('shape check', 200);
    expect(tokens).toHaveLength(200);
    expect(tokens[0]).toMatch(/^[A-Z][a-z]*\.?$/);
    for (const token of tokens.slice(1)) expect(token).toMatch(/^ [A-Za-z]+\.?$/);
    expect(tokens.join('')).toMatch(/^[A-Z][a-z]*\.?( [A-Za-z]+\.?)*\.$/);
  });

  it('ends sentences with a period now and then and capitalises the next word', () => {
    const tokens = simulatedAnswer('sentences', 300);
    const ends = tokens.map((t, i) => (t.endsWith('.') ? i : -1)).filter((i) => i >= 0 && i < tokens.length - 1);
    expect(ends.length).toBeGreaterThan(3);
    for (const i of ends) expect(tokens[i + 1]).toMatch(/^ [A-Z]/);
  });

  it('keeps earlier tokens stable when only the length changes', () => {
    const long = simulatedAnswer('prefix', 50);
    const short = simulatedAnswer('prefix', 20);
    expect(short.slice(0, 19)).toEqual(long.slice(0, 19));
  });
});

describe('parseSimDirective', () => {
  it('returns no overrides when the message has no directive', () => {
    expect(parseSimDirective('just a question')).toEqual({});
  });

  it('parses combined keys anywhere in the message', () => {
    expect(parseSimDirective('please [sim tokens=50 rate=1000 fail=transient at=10 times=2] thanks')).toEqual({
      tokens: 50,
      rate: 1000,
      fail: 'transient',
      at: 10,
      times: 2,
    });
    expect(parseSimDirective('[sim hang at=3]')).toEqual({ hang: true, at: 3 });
    expect(parseSimDirective('[sim hang]')).toEqual({ hang: true });
    expect(parseSimDirective('[sim fail=unrecoverable]')).toEqual({ fail: 'unrecoverable' });
  });

  it('ignores unknown keys and malformed numbers', () => {
    expect(parseSimDirective('[sim tokens=abc rate= colour=red fail=sometimes at=x]')).toEqual({});
  });

  it('clamps tokens to [1, 1e6] and rates to (0, 1e6]', () => {
    expect(parseSimDirective('[sim tokens=0 rate=5e9]')).toEqual({ tokens: 1, rate: 1_000_000 });
    expect(parseSimDirective('[sim tokens=9999999]')).toEqual({ tokens: 1_000_000 });
    expect(parseSimDirective('[sim rate=0]')).toEqual({});
    expect(parseSimDirective('[sim rate=-5]')).toEqual({});
  });
});

describe('createSimulatedProvider', () => {
  it('is named simulated and rejects unusable defaults', () => {
    expect(fast.name).toBe('simulated');
    expect(() => createSimulatedProvider({ tokens: 10, tokensPerSecond: 0 })).toThrow(RangeError);
  });

  it('streams the deterministic answer to the last user message', async () => {
    const req = request('ignored', {
      messages: [
        { role: 'user', content: 'first question' },
        { role: 'assistant', content: 'an answer' },
        { role: 'user', content: 'second question' },
      ],
    });
    expect(await collect(fast.stream(req))).toEqual(simulatedAnswer('second question', 30));
  });

  it('uses the directive token count instead of the default', async () => {
    const content = 'short one [sim tokens=5]';
    expect(await collect(fast.stream(request(content)))).toEqual(simulatedAnswer(content, 5));
  });

  it('fails unrecoverably before emitting any token', async () => {
    const { tokens, done } = consume(fast.stream(request('[sim fail=unrecoverable]')));
    const error = await done;
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: 'simulated_unrecoverable', retryable: false });
    expect(tokens).toEqual([]);
  });

  it('fails transiently after `at` tokens on attempts up to `times`, then succeeds', async () => {
    const content = '[sim tokens=20 fail=transient at=7 times=2]';
    const full = simulatedAnswer(content, 20);
    for (const attempt of [1, 2]) {
      const { tokens, done } = consume(fast.stream(request(content, { attempt })));
      const error = await done;
      expect(error).toMatchObject({ code: 'simulated_transient', retryable: true });
      expect(tokens).toEqual(full.slice(0, 7));
    }
    expect(await collect(fast.stream(request(content, { attempt: 3 })))).toEqual(full);
  });

  it('fails transiently only on the first attempt and before any token by default', async () => {
    const content = '[sim tokens=4 fail=transient]';
    const error = await rejection(collect(fast.stream(request(content, { attempt: 1 }))));
    expect(error.retryable).toBe(true);
    expect(await collect(fast.stream(request(content, { attempt: 2 })))).toHaveLength(4);
  });

  it('yields nothing when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const req = request('[sim fail=unrecoverable]', { signal: controller.signal });
    expect(await collect(fast.stream(req))).toEqual([]);
  });

  describe('with fake timers', () => {
    beforeEach(() => jest.useFakeTimers());
    afterEach(() => jest.useRealTimers());

    it('paces one token per timer at low rates', async () => {
      const provider = createSimulatedProvider({ tokens: 5, tokensPerSecond: 10 });
      const { tokens, done } = consume(provider.stream(request('slow')));
      await jest.advanceTimersByTimeAsync(0);
      expect(tokens).toHaveLength(1);
      await jest.advanceTimersByTimeAsync(100);
      expect(tokens).toHaveLength(2);
      await jest.advanceTimersByTimeAsync(250);
      expect(tokens).toHaveLength(4);
      await jest.advanceTimersByTimeAsync(100);
      expect(await done).toBe('returned');
      expect(tokens).toEqual(simulatedAnswer('slow', 5));
      expect(jest.getTimerCount()).toBe(0);
    });

    it('yields all due tokens in batches at very high rates instead of one timer per token', async () => {
      const setTimeoutSpy = jest.spyOn(global, 'setTimeout');
      const provider = createSimulatedProvider({ tokens: 20_000, tokensPerSecond: 100_000 });
      const { tokens, done } = consume(provider.stream(request('fast')));
      await jest.advanceTimersByTimeAsync(0);
      expect(tokens).toHaveLength(1);
      await jest.advanceTimersByTimeAsync(50);
      // 50 ms at 100k tokens/s is 5000 tokens after the first.
      expect(tokens.length).toBeGreaterThanOrEqual(4_900);
      expect(tokens.length).toBeLessThanOrEqual(5_001);
      await jest.advanceTimersByTimeAsync(200);
      expect(await done).toBe('returned');
      expect(tokens).toHaveLength(20_000);
      expect(setTimeoutSpy.mock.calls.length).toBeLessThan(500);
      setTimeoutSpy.mockRestore();
    });

    it('stops within one timer tick on abort mid-stream and leaves no timers behind', async () => {
      const controller = new AbortController();
      const provider = createSimulatedProvider({ tokens: 100, tokensPerSecond: 10 });
      const { tokens, done } = consume(provider.stream(request('abort me', { signal: controller.signal })));
      await jest.advanceTimersByTimeAsync(250);
      expect(tokens).toHaveLength(3);
      expect(jest.getTimerCount()).toBe(1);
      controller.abort();
      await jest.advanceTimersByTimeAsync(0);
      expect(await done).toBe('returned');
      expect(tokens).toHaveLength(3);
      expect(jest.getTimerCount()).toBe(0);
    });

    it('holds one abort listener while it streams, and none once it ended or was aborted', async () => {
      const provider = createSimulatedProvider({ tokens: 20, tokensPerSecond: 10 });
      const finishing = new AbortController();
      const aborted = new AbortController();
      const whole = consume(provider.stream(request('to the end', { signal: finishing.signal })));
      const cut = consume(provider.stream(request('cut short', { signal: aborted.signal })));
      await jest.advanceTimersByTimeAsync(550);
      expect(whole.tokens).toHaveLength(6);
      expect([getEventListeners(finishing.signal, 'abort'), getEventListeners(aborted.signal, 'abort')].map((l) => l.length)).toEqual([1, 1]);
      aborted.abort();
      await jest.advanceTimersByTimeAsync(2_000);
      expect(await whole.done).toBe('returned');
      expect(await cut.done).toBe('returned');
      expect(whole.tokens).toHaveLength(20);
      expect(getEventListeners(finishing.signal, 'abort')).toHaveLength(0);
      expect(jest.getTimerCount()).toBe(0);
    });

    it('hangs after `at` tokens until the signal aborts, then ends cleanly', async () => {
      const controller = new AbortController();
      const content = '[sim hang at=3 tokens=10 rate=1000]';
      const { tokens, done } = consume(fast.stream(request(content, { signal: controller.signal })));
      let settled = false;
      void done.then(() => (settled = true));
      await jest.advanceTimersByTimeAsync(60_000);
      expect(tokens).toEqual(simulatedAnswer(content, 10).slice(0, 3));
      expect(settled).toBe(false);
      expect(jest.getTimerCount()).toBe(0);
      controller.abort();
      expect(await done).toBe('returned');
    });

    it('hangs before any token with a bare [sim hang]', async () => {
      const controller = new AbortController();
      const { tokens, done } = consume(fast.stream(request('[sim hang]', { signal: controller.signal })));
      await jest.advanceTimersByTimeAsync(10_000);
      expect(tokens).toEqual([]);
      controller.abort();
      expect(await done).toBe('returned');
    });
  });

  it('ends promptly in real time when aborted mid-stream', async () => {
    const controller = new AbortController();
    const provider = createSimulatedProvider({ tokens: 1000, tokensPerSecond: 5 });
    const tokens: string[] = [];
    const started = performance.now();
    for await (const token of provider.stream(request('real abort', { signal: controller.signal }))) {
      tokens.push(token);
      if (tokens.length === 2) setTimeout(() => controller.abort(), 10);
    }
    // Token 1 lands at 200 ms and the abort at ~210 ms; the 200 ms gap timer must not run out.
    expect(tokens).toHaveLength(2);
    expect(performance.now() - started).toBeLessThan(350);
  });
});
