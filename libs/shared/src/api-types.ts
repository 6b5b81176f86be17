export const MESSAGE_ROLES = ['user', 'assistant'] as const;
export const MESSAGE_STATUSES = ['complete', 'streaming', 'failed', 'cancelled'] as const;
export const STREAM_STATUSES = ['queued', 'streaming', 'completed', 'failed', 'cancelled'] as const;
export const NOTIFICATION_TYPES = ['ai.message.received', 'system.warning'] as const;

export type MessageRole = (typeof MESSAGE_ROLES)[number];
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];
export type StreamStatus = (typeof STREAM_STATUSES)[number];
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/** A stream is active until it reaches one of these. */
export type TerminalStreamStatus = Extract<StreamStatus, 'completed' | 'failed' | 'cancelled'>;
export const TERMINAL_STREAM_STATUSES: readonly TerminalStreamStatus[] = ['completed', 'failed', 'cancelled'];
export const isTerminalStreamStatus = (s: StreamStatus): s is TerminalStreamStatus => (TERMINAL_STREAM_STATUSES as readonly StreamStatus[]).includes(s);

/** The status of a stream's assistant message, for each status of the stream. */
export const MESSAGE_STATUS_OF: Readonly<Record<StreamStatus, MessageStatus>> = {
  queued: 'streaming',
  streaming: 'streaming',
  completed: 'complete',
  failed: 'failed',
  cancelled: 'cancelled',
};

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

/**
 * Where a stream stands: the content of attempt `attempt` up to frame `seq`, and its
 * status. The one shape for a stream's position, on the server (live buffer) and in
 * clients (what they hold by the resume rule).
 */
export interface StreamPosition {
  attempt: number;
  seq: number;
  status: StreamStatus;
  content: string;
}

/**
 * Which stream, and the thread it belongs to: a stream's Redis keys carry its thread's
 * hash tag, so on Redis Cluster they sit in the slot of the thread's room channel.
 */
export interface StreamRef {
  streamId: string;
  threadId: string;
}

/** A stream as `GET /streams/:id` and the send answer show it. */
export interface StreamState extends StreamPosition {
  id: string;
  threadId: string;
  messageId: string;
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
