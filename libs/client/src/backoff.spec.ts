import { isPermanentRefusal, isRetryableHttpFailure, KeyedRetries, retryDelay } from './backoff';

describe('retry backoff', () => {
  const delays = { minMs: 500, maxMs: 10_000 };

  it('doubles from about min to max, capped', () => {
    const middle = () => 0.5; // no jitter
    expect([0, 1, 2, 3, 4, 5, 6, 30, 1_000].map((a) => retryDelay(a, delays, middle))).toEqual([500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000, 10_000]);
  });

  it('jitters by ±25 %, never above max', () => {
    expect(retryDelay(0, delays, () => 0)).toBe(375);
    expect(retryDelay(0, delays, () => 0.999999)).toBe(625);
    expect(retryDelay(10, delays, () => 0.999999)).toBe(10_000);
    expect(retryDelay(10, delays, () => 0)).toBe(7_500);
  });

  it('retries what may pass (unavailable, internal, timeouts, unknown codes), not what cannot', () => {
    expect(['unavailable', 'internal', 'timeout', 'something new'].map(isPermanentRefusal)).toEqual([false, false, false, false]);
    expect(['unauthorized', 'forbidden', 'not_found', 'invalid_request'].map(isPermanentRefusal)).toEqual([true, true, true, true]);
  });

  it('retries REST failures without an answer, 5xx, 408 and 429, not other 4xx', () => {
    const http = (status: number) => isRetryableHttpFailure({ code: 'x', status });
    expect([0, 500, 502, 503, 408, 429].map(http)).toEqual([true, true, true, true, true, true]);
    expect([400, 401, 403, 404, 409].map(http)).toEqual([false, false, false, false, false]);
  });
});

describe('KeyedRetries', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());
  /** No jitter: the delays are 1 s, 2 s, 4 s, then 4 s. */
  const retries = () => new KeyedRetries<string>({ minMs: 1_000, maxMs: 4_000 }, () => 0.5);

  it('waits longer at each attempt of a key, up to max; the key stays retrying after its timer fires', () => {
    const r = retries();
    const waited: number[] = [];
    const failAgain = () => {
      const at = Date.now();
      r.schedule('A', () => void waited.push(Date.now() - at), 'unavailable');
    };
    failAgain();
    expect([r.retrying('A'), r.waiting('A'), r.pending, r.detail('A')]).toEqual([true, true, 1, 'unavailable']);
    jest.advanceTimersByTime(999);
    expect(waited).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(waited).toEqual([1_000]);
    expect([r.retrying('A'), r.waiting('A'), r.pending]).toEqual([true, false, 0]);
    for (let i = 0; i < 3; i++) {
      failAgain();
      jest.advanceTimersByTime(4_000);
    }
    expect(waited).toEqual([1_000, 2_000, 4_000, 4_000]);
  });

  it('keeps one timer per key: scheduling again replaces the pending retry (and counts an attempt)', () => {
    const r = retries();
    const runs: string[] = [];
    r.schedule('A', () => void runs.push('first'), 'unavailable');
    r.schedule('A', () => void runs.push('second'), 'timeout');
    expect([r.pending, r.detail('A')]).toEqual([1, 'timeout']);
    jest.advanceTimersByTime(1_999);
    expect(runs).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(runs).toEqual(['second']);
  });

  it('keys are independent; cancel stops a key’s retry and starts its backoff over', () => {
    const r = retries();
    const runs: string[] = [];
    r.schedule('A', () => void runs.push('A'));
    r.schedule('A', () => void runs.push('A'));
    r.schedule('B', () => void runs.push('B'));
    expect(r.pending).toBe(2);
    r.cancel('A');
    expect([r.retrying('A'), r.waiting('A'), r.detail('A'), r.pending]).toEqual([false, false, undefined, 1]);
    jest.advanceTimersByTime(10_000);
    expect(runs).toEqual(['B']);
    r.cancel('B'); // succeeded: the next failure waits the first delay again
    r.schedule('B', () => void runs.push('B again'));
    jest.advanceTimersByTime(1_000);
    expect(runs).toEqual(['B', 'B again']);
  });

  it('clear cancels every key; close does too, and nothing is scheduled after it', () => {
    const r = retries();
    const runs: string[] = [];
    r.schedule('A', () => void runs.push('A'));
    r.schedule('B', () => void runs.push('B'));
    r.clear();
    expect([r.pending, r.retrying('A'), r.retrying('B')]).toEqual([0, false, false]);
    r.schedule('A', () => void runs.push('A'));
    r.close();
    r.schedule('B', () => void runs.push('B'));
    expect([r.pending, r.retrying('B')]).toEqual([0, false]);
    jest.advanceTimersByTime(60_000);
    expect(runs).toEqual([]);
    expect(jest.getTimerCount()).toBe(0);
  });
});
