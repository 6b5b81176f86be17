import type { HttpApi } from './http-api';
import type { ThreadStore } from './thread-store';

/**
 * Reads a thread's latest messages into the store. One read per thread at a time: a
 * request while one runs is served by a single read after it, so a burst of triggers
 * (reconnect, answers from another tab) costs at most two requests.
 */
export class HistoryLoader {
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Map<string, Promise<void>>();

  constructor(
    private readonly api: HttpApi,
    private readonly store: ThreadStore,
    private readonly limit: number,
  ) {}

  /** Resolves when a read that started after this call has landed. Never rejects: errors land in the thread's `error`. */
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

  private start(threadId: string): Promise<void> {
    const read = this.api
      .listMessages(threadId, { limit: this.limit })
      .then(
        (page) => this.store.dispatch(threadId, { type: 'history', messages: page.items }),
        (err: { code?: string; message?: string }) =>
          this.store.dispatch(threadId, { type: 'error', error: { code: err?.code ?? 'internal', message: err?.message ?? 'could not read the thread' } }),
      )
      .finally(() => this.running.delete(threadId));
    this.running.set(threadId, read);
    return read;
  }
}
