import { Router } from 'express';
import { threadIdSchema } from '@bgs/shared';
import { userIdOf } from '../auth/require-user';
import { parseInput } from '../http/validate';
import type { MessageSender } from '../messages/message-sender';
import type { StreamCanceller } from '../streams/stream-canceller';
import type { ThreadStore } from '../threads/thread-store';
import { chatRequestBody, lastUserText } from './chat-request';
import type { ChatStreaming } from './chat-streaming';

export interface ChatRouteDeps {
  threads: ThreadStore;
  /** The send path of `POST /api/threads/:id/messages`, delivering through `streaming`. */
  chatSender: MessageSender;
  streaming: ChatStreaming;
  canceller: StreamCanceller;
  defaultModel: string;
}

const TITLE_CHARS = 60;
const titleFrom = (text: string) => text.replace(/\s+/g, ' ').trim().slice(0, TITLE_CHARS);

/**
 * The AI SDK's chat protocol (`useChat` with `DefaultChatTransport`): the chat id is the
 * thread id. POST sends the last user message and streams the answer, GET resumes a
 * running answer (204 when none), DELETE stops it on the server. See docs/protocol.md#ai-sdk-chat.
 */
export function chatRoutes(deps: ChatRouteDeps): Router {
  const router = Router();

  router.post('/chat', async (req, res) => {
    const body = parseInput(chatRequestBody, req.body);
    const userId = userIdOf(res);
    const content = lastUserText(body);
    await deps.threads.ensure(userId, body.id, titleFrom(content));
    await deps.chatSender.send({ userId, threadId: body.id, content, model: deps.defaultModel, idempotencyKey: null }, res);
  });

  router.get('/chat/:chatId/stream', async (req, res) => {
    const threadId = parseInput(threadIdSchema, req.params.chatId, 'chat id');
    const thread = await deps.threads.get(userIdOf(res), threadId);
    await deps.streaming.resume(thread, await deps.threads.activeStream(thread), res);
  });

  router.delete('/chat/:chatId/stream', async (req, res) => {
    const threadId = parseInput(threadIdSchema, req.params.chatId, 'chat id');
    const thread = await deps.threads.get(userIdOf(res), threadId);
    const running = await deps.threads.activeStream(thread);
    if (running) await deps.canceller.cancel(running);
    res.status(204).end();
  });

  return router;
}
