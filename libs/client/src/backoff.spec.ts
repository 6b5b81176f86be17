import { isPermanentRefusal, isRetryableHttpFailure, retryDelay } from './backoff';

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
