import type { ErrorCode } from './errors';
import type { Message, Notification, StreamError, StreamPosition } from './api-types';

/** Socket.io event names, in one place so the client and the server cannot disagree. */
export const EVENTS = {
  threadOpen: 'thread.open',
  threadClose: 'thread.close',
  streamStarted: 'stream.started',
  streamDelta: 'stream.delta',
  streamReset: 'stream.reset',
  streamCompleted: 'stream.completed',
  streamFailed: 'stream.failed',
  streamCancelled: 'stream.cancelled',
  notificationCreated: 'notification.created',
  threadDeleted: 'thread.deleted',
  sessionExpired: 'session.expired',
} as const;

/**
 * Room names: every socket joins its user's room; `thread.open` joins the thread's. The
 * thread id is the room's hash tag, which its stream keys share (Redis Cluster).
 */
export const rooms = {
  user: (userId: string) => `user:${userId}`,
  thread: (threadId: string) => `thread:{${threadId}}`,
};

/** A stream's position as `thread.open` acks it (and `GET /streams/:id` shows it, with its error). */
export interface StreamSnapshot extends StreamPosition {
  streamId: string;
  messageId: string;
  error?: StreamError;
}

export type ThreadOpenAck = { ok: true; streams: StreamSnapshot[] } | { ok: false; error: { code: ErrorCode; message?: string } };
export type ThreadCloseAck = { ok: true } | { ok: false; error: { code: ErrorCode; message?: string } };

export interface StreamStartedEvent { streamId: string; threadId: string; messageId: string; attempt: number }
/** `text` is what frame `seq` appends to the content of attempt `attempt`. `at` is the producer's clock (ms). */
export interface StreamDeltaEvent { streamId: string; threadId: string; attempt: number; seq: number; text: string; at?: number }
export interface StreamResetEvent { streamId: string; threadId: string; attempt: number }
export interface StreamCompletedEvent { streamId: string; threadId: string; message: Message }
export interface StreamFailedEvent { streamId: string; threadId: string; messageId: string; error: StreamError }
export interface StreamCancelledEvent { streamId: string; threadId: string; messageId: string }
/** A thread of the user was deleted (in any tab): views show it gone; sockets have left its room. */
export interface ThreadDeletedEvent { threadId: string }
/** Sent just before the server disconnects a socket whose token expired; reconnect with a fresh token. */
export interface SessionExpiredEvent { reason: 'token_expired'; expiredAt: string }

export interface ServerToClientEvents {
  'stream.started': (e: StreamStartedEvent) => void;
  'stream.delta': (e: StreamDeltaEvent) => void;
  'stream.reset': (e: StreamResetEvent) => void;
  'stream.completed': (e: StreamCompletedEvent) => void;
  'stream.failed': (e: StreamFailedEvent) => void;
  'stream.cancelled': (e: StreamCancelledEvent) => void;
  'notification.created': (n: Notification) => void;
  'thread.deleted': (e: ThreadDeletedEvent) => void;
  'session.expired': (e: SessionExpiredEvent) => void;
}

/** The payload a server-to-client event carries. */
export type ServerEventPayload<E extends keyof ServerToClientEvents> = Parameters<ServerToClientEvents[E]>[0];

export interface ClientToServerEvents {
  'thread.open': (payload: { threadId: string }, ack: (a: ThreadOpenAck) => void) => void;
  'thread.close': (payload: { threadId: string }, ack?: (a: ThreadCloseAck) => void) => void;
}
