import type { Logger, PresenceStore } from '@bgs/server';

/**
 * This instance's share of presence: which of its sockets have which threads open.
 * It writes each open/close to the shared PresenceStore and heartbeats all of its
 * entries in one round trip every third of the TTL; if the instance dies the
 * entries lapse on their own.
 */
export class PresenceTracker {
  private readonly openBySocket = new Map<string, Set<string>>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: PresenceStore,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.heartbeat(), Math.max(100, Math.floor(this.store.ttlMs / 3)));
    this.timer.unref();
  }

  async open(socketId: string, threadId: string): Promise<void> {
    let threads = this.openBySocket.get(socketId);
    if (!threads) this.openBySocket.set(socketId, (threads = new Set()));
    threads.add(threadId);
    await this.store.open(threadId, socketId);
  }

  async close(socketId: string, threadId: string): Promise<void> {
    const threads = this.openBySocket.get(socketId);
    threads?.delete(threadId);
    if (threads?.size === 0) this.openBySocket.delete(socketId);
    await this.store.close(threadId, socketId);
  }

  /** A disconnected socket closes everything it had open. */
  async closeSocket(socketId: string): Promise<void> {
    const threads = [...(this.openBySocket.get(socketId) ?? [])];
    this.openBySocket.delete(socketId);
    await Promise.all(threads.map((threadId) => this.store.close(threadId, socketId)));
  }

  isOpenHere(socketId: string, threadId: string): boolean {
    return this.openBySocket.get(socketId)?.has(threadId) ?? false;
  }

  /** Open (socket, thread) pairs on this instance. */
  get entries(): number {
    let n = 0;
    for (const threads of this.openBySocket.values()) n += threads.size;
    return n;
  }

  get sockets(): number {
    return this.openBySocket.size;
  }

  private async heartbeat(): Promise<void> {
    const entries: Array<{ threadId: string; socketId: string }> = [];
    for (const [socketId, threads] of this.openBySocket) for (const threadId of threads) entries.push({ threadId, socketId });
    try {
      await this.store.refresh(entries);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, entries: entries.length }, 'presence heartbeat failed; will retry');
    }
  }

  /** Stops heartbeating and removes this instance's entries (graceful shutdown). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.all([...this.openBySocket.keys()].map((s) => this.closeSocket(s).catch(() => undefined)));
  }
}
