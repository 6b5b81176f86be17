import type { Notification, SendMessageResult } from '@bgs/shared/browser';
import type { HttpApi } from './http-api';
import type { ThreadStore } from './thread-store';

/**
 * How live updates reach the client: `connecting` (first connection), `connected`,
 * `reconnecting` (down, or refused for a reason worth retrying: retried with backoff),
 * `offline` (closed, or refused for good: see `onError`), `none` (direct mode, or no API).
 */
export type ConnectionStatus = 'connecting' | 'connected' | 'reconnecting' | 'offline' | 'none';

/** Per-send options. */
export interface SendOptions {
  /** A model the API offers (`capabilities.providers` / `defaultModel`). */
  model?: string;
  /** Makes a retried send safe: the same key returns the first answer and starts nothing. */
  idempotencyKey?: string;
}

/** What a transport gets from the client that owns it. */
export interface TransportContext {
  api: HttpApi;
  store: ThreadStore;
  /** Re-reads a thread's history (coalesced): after a reconnect, or an answer from another tab. */
  refreshHistory(threadId: string): void;
  notification(n: Notification): void;
  statusChanged(status: ConnectionStatus): void;
  /** The server says a thread of the user was deleted (in any tab). */
  threadDeleted(threadId: string): void;
  /** A failure nobody awaits (a background read, a listener, a refused connection). */
  report(err: unknown, context: Record<string, unknown>): void;
}

/** The counts a test reads to prove nothing grows with use. */
export interface TransportCounts {
  socketListeners: number;
  joinedThreads: number;
  timers: number;
  pollRounds: number;
  liveResponses: number;
}

/**
 * The background transport (REST + socket.io) or the direct one (SSE in the send
 * response). Both write into the `ThreadStore`; the client picks one from `/capabilities`.
 */
export interface Transport {
  /** The first view of `threadId` opened; resolves when its live updates are attached (or cannot be now). */
  watch(threadId: string): Promise<void>;
  /** The last view of `threadId` closed. Never stops a generation. */
  unwatch(threadId: string): void;
  /** The thread was deleted: stop following it (leave its room). */
  forget(threadId: string): void;
  /** The thread's held state changed outside the transport (a history read): re-check what to poll. */
  threadChanged(threadId: string): void;
  /** Sends; dispatches `sent` into the store and resolves once the ids are known. */
  send(threadId: string, content: string, localId: string, options: SendOptions): Promise<SendMessageResult>;
  cancel(streamId: string): Promise<void>;
  status(): ConnectionStatus;
  /** Why the connection is not up (while `reconnecting` or `offline`), or null. */
  problem(): { code: string; message: string } | null;
  counts(): TransportCounts;
  close(): void;
}
