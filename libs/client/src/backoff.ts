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

/**
 * Retries kept per key (a thread), written once for the history reads and the
 * `thread.open`s: at most one timer per key, waiting `retryDelay(attempt)` where
 * `attempt` counts the key's retries since it was last cancelled (on success, or when
 * the key no longer matters). `detail` keeps what failed, for the view to show.
 */
export class KeyedRetries<Detail = undefined> {
  private readonly entries = new Map<string, { attempt: number; timer: ReturnType<typeof setTimeout> | null; detail: Detail | undefined }>();
  private closed = false;

  constructor(
    private readonly delays: RetryDelays,
    private readonly random: () => number = Math.random,
  ) {}

  /** Runs `run` after `key`'s next backoff delay, replacing a retry still pending (one timer per key). Nothing once closed. */
  schedule(key: string, run: () => void, detail?: Detail): void {
    if (this.closed) return;
    const held = this.entries.get(key);
    if (held?.timer) clearTimeout(held.timer);
    const attempt = held?.attempt ?? 0;
    const entry = { attempt: attempt + 1, detail, timer: null as ReturnType<typeof setTimeout> | null };
    entry.timer = setTimeout(() => {
      // The key stays retrying (with its attempt count) until cancelled: the retry may fail again.
      entry.timer = null;
      run();
    }, retryDelay(attempt, this.delays, this.random));
    this.entries.set(key, entry);
  }

  /** A retry of `key` was scheduled and not cancelled since (its timer may have fired). */
  retrying(key: string): boolean {
    return this.entries.has(key);
  }

  /** `key`'s retry timer has not fired yet. */
  waiting(key: string): boolean {
    return !!this.entries.get(key)?.timer;
  }

  /** What the last scheduled retry of `key` was for. */
  detail(key: string): Detail | undefined {
    return this.entries.get(key)?.detail;
  }

  /** Stops `key`'s pending retry and starts its backoff over. */
  cancel(key: string): void {
    const entry = this.entries.get(key);
    if (entry?.timer) clearTimeout(entry.timer);
    this.entries.delete(key);
  }

  /** Cancels every key's retry. */
  clear(): void {
    for (const key of [...this.entries.keys()]) this.cancel(key);
  }

  /** Retry timers pending. */
  get pending(): number {
    let n = 0;
    for (const entry of this.entries.values()) if (entry.timer) n++;
    return n;
  }

  /** Cancels everything; later `schedule`s start nothing. */
  close(): void {
    this.closed = true;
    this.clear();
  }
}
