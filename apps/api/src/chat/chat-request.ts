import { z } from 'zod';
import { ApiError, threadIdSchema } from '@bgs/shared';

/** A UI message as the AI SDK's `DefaultChatTransport` sends it; only text parts are read. */
const uiMessage = z.object({
  id: z.string().max(200).optional(),
  role: z.enum(['system', 'user', 'assistant']),
  parts: z.array(z.looseObject({ type: z.string() })).max(1_000),
});

/**
 * What `DefaultChatTransport` posts: `{id, messages, trigger, messageId, …body}`. Extra
 * fields (an app's own `body`) are allowed; the chat id is the thread id.
 */
export const chatRequestBody = z.looseObject({
  id: threadIdSchema,
  messages: z.array(uiMessage).min(1).max(10_000),
  trigger: z.enum(['submit-message', 'regenerate-message']).optional(),
  messageId: z.string().max(200).optional(),
});

export type ChatRequest = z.infer<typeof chatRequestBody>;

/**
 * The text of the last user message: the server keeps the history, so nothing else the
 * client sends is trusted.
 */
export function lastUserText(request: ChatRequest): string {
  const last = [...request.messages].reverse().find((m) => m.role === 'user');
  const text = (last?.parts ?? [])
    .filter((p): p is { type: 'text'; text: string } => p.type === 'text' && typeof p.text === 'string')
    .map((p) => p.text)
    .join('');
  if (!text.trim()) throw new ApiError('invalid_request', 'the last user message has no text', [{ path: 'messages', message: 'no user message with a text part' }]);
  return text;
}
