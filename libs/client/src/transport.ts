import type { Notification, SendMessageResult } from '@bgs/shared/browser';
import type { HttpApi } from './http-api';
import type { ThreadStore } from './thread-store';

/** How live updates reach the client: `none` in direct mode, where the send response carries them. */
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
  /** A failure nobody awaits (a background read, a listener). */
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
  /** Sends; dispatches `sent` into the store and resolves once the ids are known. */
  send(threadId: string, content: string, localId: string, options: SendOptions): Promise<SendMessageResult>;
  cancel(streamId: string): Promise<void>;
  status(): ConnectionStatus;
  counts(): TransportCounts;
  close(): void;
}
