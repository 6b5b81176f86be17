import { isRetryableHttpFailure, KeyedRetries, type RetryDelays } from './backoff';
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
  private readonly retries: KeyedRetries;

  constructor(
    private readonly api: HttpApi,
    private readonly store: ThreadStore,
    private readonly options: HistoryLoaderOptions,
  ) {
    this.retries = new KeyedRetries(options.retryDelays);
  }

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
    this.retries.cancel(threadId);
  }

  /** Retry timers pending. */
  get timers(): number {
    return this.retries.pending;
  }

  /** No retry runs or starts any more; a read in flight still lands. */
  close(): void {
    this.retries.close();
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
    if (!this.options.viewed(threadId)) return;
    this.retries.schedule(threadId, () => {
      if (this.options.viewed(threadId)) void this.load(threadId);
    });
  }
}
