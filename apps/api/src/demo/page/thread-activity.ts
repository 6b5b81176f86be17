import type { Notification, Thread } from '@bgs/client';

/** One row of the thread list as the page shows it. */
export interface ThreadRow {
  id: string;
  title: string;
  muted: boolean;
  /** An answer is being written in this thread. */
  streaming: boolean;
  /** Unread notifications about this thread. */
  unread: number;
  selected: boolean;
}

/** How many notifications the page keeps for its list (newest first). */
export const KEPT_NOTIFICATIONS = 50;

/**
 * What the page knows about each thread besides its messages: which answers are
 * running, which notifications are unread, which thread is open. Pure (no DOM, no
 * requests): the page feeds it what it learns and renders `rows()` and `notifications`.
 *
 * A thread nobody views sends the page no stream events, only its notification when it
 * ends (unmuted). So its "answering" mark comes from the last list read
 * (`activeStreamId`), a send from here, or the open thread's own view, and is cleared
 * by its notification or the next list read (the page reads the list on every switch).
 */
export class ThreadActivity {
  private threads: Thread[] = [];
  private running = new Set<string>();
  private recent: Notification[] = [];
  private selectedId: string | null = null;
  /** The open thread's view, once it has spoken: it beats any list read (which may be older). */
  private openStreaming: boolean | null = null;

  /** A fresh read of the thread list (newest activity first): the server's word on what runs. */
  listed(threads: Thread[]): void {
    this.threads = threads;
    this.running = new Set(threads.filter((t) => t.activeStreamId !== null).map((t) => t.id));
  }

  /** A thread created or changed here (renamed, muted): shown at once, before the next read. */
  upserted(thread: Thread): void {
    const at = this.threads.findIndex((t) => t.id === thread.id);
    this.threads = at < 0 ? [thread, ...this.threads] : this.threads.map((t) => (t.id === thread.id ? thread : t));
  }

  thread(threadId: string): Thread | undefined {
    return this.threads.find((t) => t.id === threadId);
  }

  get selected(): string | null {
    return this.selectedId;
  }

  /** Another thread is opened: what the last one's view said is kept as its mark. */
  select(threadId: string | null): void {
    if (this.selectedId !== null && this.openStreaming !== null) this.mark(this.selectedId, this.openStreaming);
    this.selectedId = threadId;
    this.openStreaming = null;
  }

  /** An answer started from here. */
  sent(threadId: string): void {
    this.running.add(threadId);
  }

  /** The open thread's view says whether its answer is still running. */
  viewed(threadId: string, streaming: boolean): void {
    if (threadId === this.selectedId) this.openStreaming = streaming;
    this.mark(threadId, streaming);
  }

  private mark(threadId: string, streaming: boolean): void {
    if (streaming) this.running.add(threadId);
    else this.running.delete(threadId);
  }

  /** The recent notifications, newest first (the list read at start). */
  notificationsLoaded(items: Notification[]): void {
    this.recent = items.slice(0, KEPT_NOTIFICATIONS);
  }

  /**
   * A pushed notification: its thread's answer has ended. Returns false when it is
   * already held (the start-up read and the push can both bring it), so it toasts once.
   */
  notified(n: Notification): boolean {
    this.running.delete(n.threadId);
    if (this.recent.some((held) => held.id === n.id)) return false;
    this.recent = [n, ...this.recent].slice(0, KEPT_NOTIFICATIONS);
    return true;
  }

  /** Marks the thread's unread notifications read; returns their ids (to tell the server). */
  readThread(threadId: string, at: string): string[] {
    const ids = this.recent.filter((n) => n.threadId === threadId && n.readAt === null).map((n) => n.id);
    if (ids.length > 0) this.recent = this.recent.map((n) => (ids.includes(n.id) ? { ...n, readAt: at } : n));
    return ids;
  }

  readAll(at: string): void {
    this.recent = this.recent.map((n) => (n.readAt === null ? { ...n, readAt: at } : n));
  }

  get notifications(): readonly Notification[] {
    return this.recent;
  }

  get unreadCount(): number {
    return this.recent.filter((n) => n.readAt === null).length;
  }

  /** The thread list, in the server's order. */
  rows(): ThreadRow[] {
    const unread = new Map<string, number>();
    for (const n of this.recent) if (n.readAt === null) unread.set(n.threadId, (unread.get(n.threadId) ?? 0) + 1);
    return this.threads.map((t) => ({
      id: t.id,
      title: t.title,
      muted: t.muted,
      streaming: t.id === this.selectedId && this.openStreaming !== null ? this.openStreaming : this.running.has(t.id),
      unread: unread.get(t.id) ?? 0,
      selected: t.id === this.selectedId,
    }));
  }
}
