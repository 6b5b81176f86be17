import type { z } from 'zod';
import {
  createThreadBody,
  devTokenBody,
  idempotencyKeySchema,
  idSchema,
  threadIdSchema,
  listMessagesQuery,
  listNotificationsQuery,
  listThreadsQuery,
  patchThreadBody,
  sendMessageBody,
  type ErrorCode,
} from '@bgs/shared';
import { QUEUE_BOARD_PATH } from '../admin/queue-board';
import { chatRequestBody } from '../chat/chat-request';
import {
  cancelAcceptedSchema,
  capabilitiesSchema,
  devTokenSchema,
  healthSchema,
  messageListSchema,
  notificationPageSchema,
  readySchema,
  sendMessageResultSchema,
  streamStateSchema,
  threadPageSchema,
  threadSchema,
} from './response-schemas';

/** One documented answer: JSON from a zod schema, or another media type described in words. */
export type Answer = { description: string; json?: z.ZodType; media?: string };

/**
 * One route as the document shows it. Request schemas are the very ones the route
 * handlers pass to `parseInput`, so the document cannot disagree with validation.
 */
export interface Operation {
  method: 'get' | 'post' | 'patch' | 'delete';
  /** Express syntax, as registered: `/api/threads/:threadId`. */
  path: string;
  summary: string;
  tag: 'threads' | 'messages' | 'chat' | 'streams' | 'notifications' | 'meta' | 'operations' | 'auth';
  auth: 'user' | 'admin' | 'none';
  params?: Record<string, z.ZodType>;
  query?: z.ZodType;
  headers?: Record<string, { schema: z.ZodType; description: string }>;
  body?: z.ZodType;
  answers: Record<number, Answer>;
  errors: ErrorCode[];
}

export interface OperationOptions {
  maxMessageChars: number;
  /** `POST /api/dev/token` is mounted (AUTH_DEV_TOKENS). */
  devTokens: boolean;
  /** Bull Board is mounted (ADMIN_TOKEN with background streaming). */
  queueBoard: boolean;
}

const threadId = { threadId: threadIdSchema };
const chatId = { chatId: threadIdSchema };
const userErrors: ErrorCode[] = ['unauthorized', 'unavailable'];

/** Every route of the HTTP API, public ones included. */
export function operations(options: OperationOptions): Operation[] {
  const ops: Operation[] = [
    { method: 'get', path: '/healthz', summary: 'The process answers', tag: 'operations', auth: 'none', answers: { 200: { description: 'alive', json: healthSchema } }, errors: [] },
    {
      method: 'get', path: '/readyz', summary: 'Postgres (and Redis in background mode) answer', tag: 'operations', auth: 'none',
      answers: { 200: { description: 'ready', json: readySchema } }, errors: ['unavailable'],
    },
    {
      method: 'get', path: '/metrics', summary: 'Prometheus metrics of this instance', tag: 'operations', auth: 'none',
      answers: { 200: { description: 'Prometheus text exposition format', media: 'text/plain; version=0.0.4' } }, errors: [],
    },
    {
      method: 'get', path: '/', summary: 'The demo chat page (its script and styles are static files under /demo/)', tag: 'meta', auth: 'none',
      answers: { 200: { description: 'the page', media: 'text/html' } }, errors: [],
    },
    {
      method: 'get', path: '/examples/ai-sdk', summary: 'The AI SDK example page: @ai-sdk/vue against /api/chat (its script and styles are static files below it)', tag: 'meta', auth: 'none',
      answers: { 200: { description: 'the page', media: 'text/html' } }, errors: [],
    },
    { method: 'get', path: '/api/openapi.json', summary: 'This document', tag: 'meta', auth: 'none', answers: { 200: { description: 'OpenAPI 3.1 document' } }, errors: [] },
    {
      method: 'get', path: '/api/capabilities', summary: 'What this deployment offers (background streaming, realtime transport, providers)', tag: 'meta', auth: 'none',
      answers: { 200: { description: 'capabilities', json: capabilitiesSchema } }, errors: [],
    },
    {
      method: 'post', path: '/api/threads', summary: 'Create a thread', tag: 'threads', auth: 'user', body: createThreadBody,
      answers: { 201: { description: 'the new thread', json: threadSchema } }, errors: ['invalid_request', 'payload_too_large', ...userErrors],
    },
    {
      method: 'get', path: '/api/threads', summary: "The user's threads, newest activity first", tag: 'threads', auth: 'user', query: listThreadsQuery,
      answers: { 200: { description: 'a page of threads', json: threadPageSchema } }, errors: ['invalid_request', ...userErrors],
    },
    {
      method: 'get', path: '/api/threads/:threadId', summary: 'One thread', tag: 'threads', auth: 'user', params: threadId,
      answers: { 200: { description: 'the thread', json: threadSchema } }, errors: ['invalid_request', 'not_found', ...userErrors],
    },
    {
      method: 'patch', path: '/api/threads/:threadId', summary: 'Rename or (un)mute a thread', tag: 'threads', auth: 'user', params: threadId, body: patchThreadBody,
      answers: { 200: { description: 'the updated thread', json: threadSchema } }, errors: ['invalid_request', 'not_found', 'payload_too_large', ...userErrors],
    },
    {
      method: 'delete', path: '/api/threads/:threadId', summary: 'Delete a thread; its active stream is cancelled', tag: 'threads', auth: 'user', params: threadId,
      answers: { 204: { description: 'deleted' } }, errors: ['invalid_request', 'not_found', ...userErrors],
    },
    {
      method: 'get', path: '/api/threads/:threadId/messages', summary: 'Messages, oldest first; a streaming answer carries its live content, attempt and seq', tag: 'messages', auth: 'user',
      params: threadId, query: listMessagesQuery,
      answers: { 200: { description: 'the messages', json: messageListSchema } }, errors: ['invalid_request', 'not_found', ...userErrors],
    },
    {
      method: 'post', path: '/api/threads/:threadId/messages', summary: 'Send a message and start generating the answer', tag: 'messages', auth: 'user',
      params: threadId, body: sendMessageBody(options.maxMessageChars),
      headers: { 'Idempotency-Key': { schema: idempotencyKeySchema, description: 'A retry with the same key returns the first answer and enqueues nothing' } },
      answers: {
        202: { description: 'Background mode: stored and enqueued; follow it on the socket (`thread.open`) or with GET /api/streams/{streamId}', json: sendMessageResultSchema },
        200: {
          description: 'Direct mode (background streaming off), with `Accept: text/event-stream`: the answer as server-sent events `delta` `{seq, text}`, then `completed` `{message}` or `failed` `{error}`; closing the response cancels the generation',
          media: 'text/event-stream',
        },
      },
      errors: ['invalid_request', 'not_found', 'stream_in_progress', 'payload_too_large', 'rate_limited', ...userErrors],
    },
    {
      method: 'post', path: '/api/chat', summary: "The AI SDK's chat endpoint (`useChat` with `DefaultChatTransport`): sends the last user message of chat `id` (the thread, created on first use) and streams the answer", tag: 'chat', auth: 'user',
      body: chatRequestBody,
      answers: { 200: { description: 'the UI message stream (`x-vercel-ai-ui-message-stream: v1`): start, text-start, text-delta…, text-end, finish (or an error chunk), [DONE]', media: 'text/event-stream' } },
      errors: ['invalid_request', 'not_found', 'stream_in_progress', 'payload_too_large', 'rate_limited', ...userErrors],
    },
    {
      method: 'get', path: '/api/chat/:chatId/stream', summary: "Resume a chat's running answer: replayed from its start, then live to the end", tag: 'chat', auth: 'user', params: chatId,
      answers: { 200: { description: 'the UI message stream', media: 'text/event-stream' }, 204: { description: 'nothing is running (or background streaming is off)' } },
      errors: ['invalid_request', 'not_found', ...userErrors],
    },
    {
      method: 'delete', path: '/api/chat/:chatId/stream', summary: "Stop a chat's running answer on the server (partial text kept, `cancelled`); idempotent", tag: 'chat', auth: 'user', params: chatId,
      answers: { 204: { description: 'stopped, or nothing was running' } }, errors: ['invalid_request', 'not_found', ...userErrors],
    },
    {
      method: 'get', path: '/api/streams/:streamId', summary: "A stream's status and content (live while it runs)", tag: 'streams', auth: 'user', params: { streamId: idSchema },
      answers: { 200: { description: 'the stream', json: streamStateSchema } }, errors: ['invalid_request', 'not_found', ...userErrors],
    },
    {
      method: 'post', path: '/api/streams/:streamId/cancel', summary: 'Cancel a stream; idempotent, partial content is kept', tag: 'streams', auth: 'user', params: { streamId: idSchema },
      answers: { 202: { description: 'cancelling', json: cancelAcceptedSchema } }, errors: ['invalid_request', 'not_found', ...userErrors],
    },
    {
      method: 'get', path: '/api/notifications', summary: 'Notifications, newest first', tag: 'notifications', auth: 'user', query: listNotificationsQuery,
      answers: { 200: { description: 'a page of notifications', json: notificationPageSchema } }, errors: ['invalid_request', ...userErrors],
    },
    {
      method: 'post', path: '/api/notifications/read-all', summary: 'Mark every notification read', tag: 'notifications', auth: 'user',
      answers: { 204: { description: 'done' } }, errors: userErrors,
    },
    {
      method: 'post', path: '/api/notifications/:notificationId/read', summary: 'Mark one notification read', tag: 'notifications', auth: 'user', params: { notificationId: idSchema },
      answers: { 204: { description: 'done' } }, errors: ['invalid_request', 'not_found', ...userErrors],
    },
  ];
  if (options.devTokens) {
    ops.push({
      method: 'post', path: '/api/dev/token', summary: 'Development only (AUTH_DEV_TOKENS, never in production): a token for any user id', tag: 'auth', auth: 'none', body: devTokenBody,
      answers: { 200: { description: 'a bearer token', json: devTokenSchema } }, errors: ['invalid_request'],
    });
  }
  if (options.queueBoard) {
    ops.push({
      method: 'get', path: QUEUE_BOARD_PATH, summary: 'Bull Board (the generation queue), behind ADMIN_TOKEN; `?token=` once sets an HttpOnly cookie and redirects', tag: 'operations', auth: 'admin',
      answers: { 200: { description: 'the dashboard', media: 'text/html' }, 303: { description: 'after `?token=`: the cookie is set, the same page without the token' } },
      errors: ['unauthorized'],
    });
  }
  return ops;
}
