import { Router } from 'express';
import { idempotencyKeySchema, threadIdSchema, listMessagesQuery, sendMessageBody } from '@bgs/shared';
import { userIdOf } from '../auth/require-user';
import { parseInput } from '../http/validate';
import type { StreamReader } from '../streams/stream-reader';
import type { MessageSender } from './message-sender';
import type { MessageStore, NewTurn } from './message-store';
import type { TurnDelivery } from './turn-delivery';

export interface MessageRouteDeps {
  messages: MessageStore;
  reader: StreamReader;
  defaultModel: string;
  maxMessageChars: number;
  sender: MessageSender;
  delivery: TurnDelivery;
}

export function messageRoutes(deps: MessageRouteDeps): Router {
  const router = Router();
  const bodySchema = sendMessageBody(deps.maxMessageChars);

  router.get('/threads/:threadId/messages', async (req, res) => {
    const threadId = parseInput(threadIdSchema, req.params.threadId, 'thread id');
    const query = parseInput(listMessagesQuery, req.query, 'query');
    const rows = await deps.messages.list(userIdOf(res), threadId, query.limit, query.before);
    res.json({ items: await deps.reader.withLiveContent(rows) });
  });

  router.post('/threads/:threadId/messages', async (req, res) => {
    const threadId = parseInput(threadIdSchema, req.params.threadId, 'thread id');
    const body = parseInput(bodySchema, req.body);
    const rawKey = req.headers['idempotency-key'];
    const idempotencyKey = rawKey === undefined ? null : parseInput(idempotencyKeySchema, rawKey, 'Idempotency-Key header');
    const turn: NewTurn = { userId: userIdOf(res), threadId, content: body.content, model: body.model ?? deps.defaultModel, idempotencyKey };
    deps.delivery.accept(req);
    await deps.sender.send(turn, res);
  });

  return router;
}
