import { retryWhileDatabaseUnavailable } from './retry';

const unreachable = () => Object.assign(new Error("Can't reach database server at 127.0.0.1:5432"), { code: 'P1001' });

describe('retryWhileDatabaseUnavailable', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('retries while Postgres is unreachable, backing off, and returns the first success', async () => {
    const write = jest.fn().mockRejectedValueOnce(unreachable()).mockRejectedValueOnce(new Error('Connection terminated unexpectedly')).mockResolvedValue('written');
    const retries: number[] = [];
    const result = retryWhileDatabaseUnavailable(write, { timeoutMs: 10_000, onRetry: (_err, n) => retries.push(n) });
    await jest.advanceTimersByTimeAsync(99);
    expect(write).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(1); // 100 ms after the first failure
    expect(write).toHaveBeenCalledTimes(2);
    await jest.advanceTimersByTimeAsync(200); // 200 ms after the second
    await expect(result).resolves.toBe('written');
    expect(retries).toEqual([1, 2]);
  });

  it('rethrows any other error at once', async () => {
    const write = jest.fn().mockRejectedValue(new Error('unique constraint failed'));
    await expect(retryWhileDatabaseUnavailable(write, { timeoutMs: 10_000 })).rejects.toThrow('unique constraint failed');
    expect(write).toHaveBeenCalledTimes(1);
  });

  it('gives up with the last error once the time is spent', async () => {
    const write = jest.fn().mockImplementation(() => Promise.reject(unreachable()));
    const result = retryWhileDatabaseUnavailable(write, { timeoutMs: 1_000 });
    const settled = expect(result).rejects.toThrow("Can't reach database server");
    await jest.advanceTimersByTimeAsync(1_000);
    await settled;
    // 100 + 200 + 400 + 300 (cut to the deadline) ms of waits: five tries.
    expect(write).toHaveBeenCalledTimes(5);
  });

  it('stops early when told to (shutdown)', async () => {
    let stopping = false;
    const write = jest.fn().mockImplementation(() => {
      stopping = true;
      return Promise.reject(unreachable());
    });
    await expect(retryWhileDatabaseUnavailable(write, { timeoutMs: 10_000, stop: () => stopping })).rejects.toThrow("Can't reach");
    expect(write).toHaveBeenCalledTimes(1);
  });
});
