import { isDatabaseUnavailable } from './database';

export interface DatabaseRetryOptions {
  /** Gives up (rethrows the last error) once this long has passed since the first try. */
  timeoutMs: number;
  /** Called before each wait, with the error and how many tries failed so far (for logs). */
  onRetry?: (err: Error, failures: number) => void;
  /** Stops retrying early (process shutting down); the last error is rethrown. */
  stop?: () => boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `write` again while Postgres is unreachable (restart, failover), backing off from
 * 100 ms to 2 s, for at most `timeoutMs`. Any other error is rethrown at once. Only for
 * writes that are safe to repeat: a try whose reply was lost may have committed.
 */
export async function retryWhileDatabaseUnavailable<T>(write: () => Promise<T>, options: DatabaseRetryOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (let failures = 1; ; failures++) {
    try {
      return await write();
    } catch (err) {
      const left = deadline - Date.now();
      if (!isDatabaseUnavailable(err) || left <= 0 || options.stop?.()) throw err;
      options.onRetry?.(err as Error, failures);
      await sleep(Math.min(100 * 2 ** (failures - 1), 2_000, left));
    }
  }
}
