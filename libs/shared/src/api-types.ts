import { z } from 'zod';

export const MESSAGE_ROLES = ['user', 'assistant'] as const;
export const MESSAGE_STATUSES = ['complete', 'streaming', 'failed', 'cancelled'] as const;
export const STREAM_STATUSES = ['queued', 'streaming', 'completed', 'failed', 'cancelled'] as const;
export const NOTIFICATION_TYPES = ['ai.message.received', 'system.warning'] as const;

export type MessageRole = (typeof MESSAGE_ROLES)[number];
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];
export type StreamStatus = (typeof STREAM_STATUSES)[number];
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/** A stream is active until it reaches one of these. */
export const TERMINAL_STREAM_STATUSES: readonly StreamStatus[] = ['completed', 'failed', 'cancelled'];
export const isTerminalStreamStatus = (s: StreamStatus) => TERMINAL_STREAM_STATUSES.includes(s);

export interface Thread {
  id: string;
  title: string;
  muted: boolean;
  createdAt: string;
  updatedAt: string;
  activeStreamId: string | null;
}

export interface Message {
  id: string;
  threadId: string;
  role: MessageRole;
  content: string;
  status: MessageStatus;
  streamId?: string;
  version: number;
  createdAt: string;
  /** Present while the message is streaming: the live position of its stream. */
  attempt?: number;
  seq?: number;
}

export interface StreamError {
  code: string;
  message: string;
}

export interface StreamState {
  id: string;
  threadId: string;
  messageId: string;
  status: StreamStatus;
  attempt: number;
  seq: number;
  content: string;
  error?: StreamError;
}

export interface Notification {
  id: string;
  type: NotificationType;
  threadId: string;
  streamId: string;
  title: string;
  body: string;
  readAt: string | null;
  createdAt: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface SendMessageResult {
  userMessage: Message;
  assistantMessage: Message;
  stream: StreamState;
}

export interface Capabilities {
  backgroundStreaming: boolean;
  realtime: 'socket.io' | null;
  providers: string[];
  defaultModel: string;
}

// ---- request schemas (validated at the edge, strict: unknown fields are refused) ----

export const idSchema = z.string().uuid({ message: 'must be a UUID' });
/** Text that is stored in Postgres, which cannot hold NUL characters in `text` columns (a 500 otherwise). */
const storedText = () => z.string().trim().regex(/^[^\u0000]*$/, 'must not contain NUL (\\u0000) characters');
export const titleSchema = storedText().min(1).max(200);

export const createThreadBody = z.strictObject({ title: titleSchema.optional() });
export const patchThreadBody = z
  .strictObject({ title: titleSchema.optional(), muted: z.boolean().optional() })
  .refine((b) => b.title !== undefined || b.muted !== undefined, { message: 'nothing to change: give title or muted' });

const limit = (max: number, fallback: number) => z.coerce.number().int().min(1).max(max).default(fallback);
/** Opaque cursors are base64url JSON; their shape is checked where they are decoded. */
export const cursorSchema = z.string().min(1).max(512).regex(/^[A-Za-z0-9_-]+$/, 'malformed cursor');

export const listThreadsQuery = z.strictObject({ limit: limit(100, 20), cursor: cursorSchema.optional() });
export const listMessagesQuery = z.strictObject({ limit: limit(200, 50), before: idSchema.optional() });
export const listNotificationsQuery = z.strictObject({
  unread: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
  limit: limit(100, 20),
  cursor: cursorSchema.optional(),
});

export const modelSchema = z.string().trim().min(1).max(100).regex(/^[\w.:/-]+$/, 'unexpected characters in model');
export const sendMessageBody = (maxChars: number) =>
  z.strictObject({ content: storedText().min(1).max(maxChars), model: modelSchema.optional() });
export const idempotencyKeySchema = z.string().min(1).max(200).regex(/^[\x21-\x7e]+$/, 'printable ASCII only');

export const devTokenBody = z.strictObject({ userId: z.string().min(1).max(200).regex(/^[\w.@-]+$/) });
