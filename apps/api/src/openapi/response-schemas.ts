import { z } from 'zod';
import {
  ERROR_STATUS,
  MESSAGE_ROLES,
  MESSAGE_STATUSES,
  NOTIFICATION_TYPES,
  STREAM_STATUSES,
  type Capabilities,
  type ErrorBody,
  type Message,
  type Notification,
  type SendMessageResult,
  type StreamState,
  type Thread,
} from '@bgs/shared';

/*
 * The answers' shapes as zod schemas, for the OpenAPI document. The API's types (docs/protocol.md#shapes)
 * in libs/shared are interfaces; the `Same` checks at the bottom make the build fail
 * when a schema here and its interface drift apart.
 */

const uuid = z.uuid();
const timestamp = z.iso.datetime();

export const errorBodySchema = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(ERROR_STATUS) as [keyof typeof ERROR_STATUS, ...Array<keyof typeof ERROR_STATUS>]),
      message: z.string(),
      details: z.unknown().optional().meta({ description: 'zod issues (`[{path, message, code}]`) for invalid_request; otherwise code-specific' }),
    }),
  })
  .meta({ id: 'Error', description: 'Every error answer. 429 and 503 also carry `Retry-After` (seconds).' });

export const threadSchema = z
  .object({ id: uuid, title: z.string(), muted: z.boolean(), createdAt: timestamp, updatedAt: timestamp, activeStreamId: uuid.nullable() })
  .meta({ id: 'Thread' });

export const messageSchema = z
  .object({
    id: uuid,
    threadId: uuid,
    role: z.enum(MESSAGE_ROLES),
    content: z.string(),
    status: z.enum(MESSAGE_STATUSES),
    streamId: uuid.optional(),
    version: z.number().int(),
    createdAt: timestamp,
    attempt: z.number().int().optional().meta({ description: 'While streaming: the attempt the live content belongs to' }),
    seq: z.number().int().optional().meta({ description: 'While streaming: the last frame included in `content`' }),
  })
  .meta({ id: 'Message' });

export const streamStateSchema = z
  .object({
    id: uuid,
    threadId: uuid,
    messageId: uuid,
    status: z.enum(STREAM_STATUSES),
    attempt: z.number().int(),
    seq: z.number().int(),
    content: z.string(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
  })
  .meta({ id: 'Stream' });

export const notificationSchema = z
  .object({ id: uuid, type: z.enum(NOTIFICATION_TYPES), threadId: uuid, streamId: uuid, title: z.string(), body: z.string(), readAt: timestamp.nullable(), createdAt: timestamp })
  .meta({ id: 'Notification' });

export const sendMessageResultSchema = z
  .object({ userMessage: messageSchema, assistantMessage: messageSchema, stream: streamStateSchema })
  .meta({ id: 'SendMessageResult' });

export const capabilitiesSchema = z
  .object({ backgroundStreaming: z.boolean(), realtime: z.literal('socket.io').nullable(), providers: z.array(z.string()), defaultModel: z.string() })
  .meta({ id: 'Capabilities' });

const pageOf = (item: z.ZodType, id: string) => z.object({ items: z.array(item), nextCursor: z.string().nullable() }).meta({ id });
export const threadPageSchema = pageOf(threadSchema, 'ThreadPage');
export const notificationPageSchema = pageOf(notificationSchema, 'NotificationPage');
export const messageListSchema = z.object({ items: z.array(messageSchema) }).meta({ id: 'MessageList' });

export const cancelAcceptedSchema = z.object({ streamId: uuid, status: z.literal('cancelling') });
export const devTokenSchema = z.object({ token: z.string() });
export const healthSchema = z.object({ status: z.literal('ok') });
export const readySchema = z.object({ status: z.literal('ready'), checks: z.record(z.string(), z.literal('ok')) });

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const inSync: [
  Same<z.output<typeof threadSchema>, Thread>,
  Same<z.output<typeof messageSchema>, Message>,
  Same<z.output<typeof streamStateSchema>, StreamState>,
  Same<z.output<typeof notificationSchema>, Notification>,
  Same<z.output<typeof sendMessageResultSchema>, SendMessageResult>,
  Same<z.output<typeof capabilitiesSchema>, Capabilities>,
  Same<z.output<typeof errorBodySchema>['error']['code'], ErrorBody['error']['code']>,
] = [true, true, true, true, true, true, true];
void inSync;
