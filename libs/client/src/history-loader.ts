import { isRetryableHttpFailure, retryDelay, type RetryDelays } from './backoff';
import type { HttpApi } from './http-api';
import type { ThreadStore } from './thread-store';

export interface HistoryLoaderOptions {
  limit: number;
  retryDelays: RetryDelays;
  /** Whether the thread is viewed: only viewed threads' failed reads are retried. */
  viewed(threadId: string): boolean;
  /** A read landed (the transport re-checks what to poll: a running answer may be known only from it). */
  loaded(threadId: string): void;
}

/**
 * Reads a thread's latest messages into the store. One read per thread at a time: a
 * request while one runs is served by a single read after it, so a burst of triggers
 * (reconnect, answers from another tab) costs at most two requests. A read that fails
 * for a reason worth retrying (no answer, 5xx, 429) shows as the thread's
 * `historyProblem` and is read again after a backoff while the thread is viewed; any
 * other failure is the thread's `error`.
 */
export class HistoryLoader {
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Map<string, Promise<void>>();
  private readonly retries = new Map<string, { attempt: number; timer: ReturnType<typeof setTimeout> | null }>();
  private closed = false;

  constructor(
    private readonly api: HttpApi,
    private readonly store: ThreadStore,
    private readonly options: HistoryLoaderOptions,
  ) {}

  /** Resolves when a read that started after this call has landed. Never rejects: errors land in the thread's state. */
  load(threadId: string): Promise<void> {
    const current = this.running.get(threadId);
    if (!current) return this.start(threadId);
    let next = this.again.get(threadId);
    if (!next) {
      next = current.then(() => {
        this.again.delete(threadId);
        return this.start(threadId);
      });
      this.again.set(threadId, next);
    }
    return next;
  }

  /** The thread is no longer viewed: no retry of its read. */
  cancel(threadId: string): void {
    const retry = this.retries.get(threadId);
    if (retry?.timer) clearTimeout(retry.timer);
    this.retries.delete(threadId);
  }

  /** Retry timers pending. */
  get timers(): number {
    let n = 0;
    for (const r of this.retries.values()) if (r.timer) n++;
    return n;
  }

  close(): void {
    this.closed = true;
    for (const threadId of [...this.retries.keys()]) this.cancel(threadId);
  }

  private start(threadId: string): Promise<void> {
    const read = this.api
      .listMessages(threadId, { limit: this.options.limit })
      .then(
        (page) => {
          this.cancel(threadId);
          this.store.dispatch(threadId, { type: 'history', messages: page.items });
          this.options.loaded(threadId);
        },
        (err: { code?: string; message?: string }) => {
          const problem = { code: err?.code ?? 'internal', message: err?.message ?? 'could not read the thread' };
          if (!isRetryableHttpFailure(err)) {
            this.cancel(threadId);
            this.store.dispatch(threadId, { type: 'error', error: problem });
            return;
          }
          this.store.dispatch(threadId, { type: 'historyProblem', problem });
          this.retryLater(threadId);
        },
      )
      .finally(() => this.running.delete(threadId));
    this.running.set(threadId, read);
    return read;
  }

  private retryLater(threadId: string): void {
    if (this.closed || !this.options.viewed(threadId)) return;
    const attempt = this.retries.get(threadId)?.attempt ?? 0;
    const retry = { attempt: attempt + 1, timer: null as ReturnType<typeof setTimeout> | null };
    retry.timer = setTimeout(() => {
      retry.timer = null;
      if (!this.closed && this.options.viewed(threadId)) void this.load(threadId);
    }, retryDelay(attempt, this.options.retryDelays));
    this.retries.set(threadId, retry);
  }
}
