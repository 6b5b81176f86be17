/**
 * The client's own retries (a socket connection refused by the server, a `thread.open`
 * refused or not answered, a history read that failed) wait a capped exponential
 * backoff with jitter, so that many clients coming back from one outage do not ask in
 * step. What is worth retrying is decided here, once.
 */

/** Bounds of the backoff: the first retry waits about `minMs`, later ones double up to `maxMs`. */
export interface RetryDelays {
  minMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY_DELAYS: RetryDelays = { minMs: 500, maxMs: 10_000 };

/** Why something did not work, as a view or `onError` shows it. */
export interface Problem {
  code: string;
  message: string;
}

/** The delay before retry number `attempt` (0 = the first): min·2^attempt, ±25 % jitter, never above max. */
export function retryDelay(attempt: number, delays: RetryDelays, random: () => number = Math.random): number {
  const nominal = Math.min(delays.maxMs, delays.minMs * 2 ** Math.min(attempt, 20));
  return Math.round(Math.min(delays.maxMs, nominal * (0.75 + random() * 0.5)));
}

/**
 * Refusals that asking again cannot fix: the token is refused, the thread is not the
 * user's (or gone), the request is malformed. Everything else (`unavailable`,
 * `internal`, a timeout, a code this client does not know) is worth another try.
 */
const PERMANENT = new Set(['unauthorized', 'forbidden', 'not_found', 'invalid_request', 'payload_too_large']);

export const isPermanentRefusal = (code: string): boolean => PERMANENT.has(code);

/**
 * A REST failure worth retrying: no answer (status 0), a 5xx, 408 or 429. A 4xx is the
 * server's final word (a missing thread, a refused token after a fresh one was asked for).
 */
export function isRetryableHttpFailure(err: unknown): boolean {
  const e = err as { status?: unknown; code?: unknown };
  if (typeof e?.status !== 'number') return true;
  if (e.status === 0 || e.status >= 500 || e.status === 408 || e.status === 429) return true;
  return false;
}
