import { Router, type Request } from 'express';
import { ApiError, idempotencyKeySchema, idSchema, listMessagesQuery, sendMessageBody } from '@bgs/shared';
import { userIdOf } from '../auth/require-user';
import type { DirectGenerator } from '../direct/direct-generator';
import { parseInput } from '../http/validate';
import type { StreamReader } from '../streams/stream-reader';
import type { MessageSender } from './message-sender';
import type { MessageStore, NewTurn } from './message-store';
import type { SendRateLimiter } from './send-rate-limiter';

export interface MessageRouteDeps {
  messages: MessageStore;
  reader: StreamReader;
  defaultModel: string;
  maxMessageChars: number;
  /** Background mode. */
  sender: MessageSender | null;
  /** Direct mode. */
  direct: { generator: DirectGenerator; rateLimiter: SendRateLimiter } | null;
}

const wantsEventStream = (req: Request) => /\btext\/event-stream\b/.test(req.headers.accept ?? '');

export function messageRoutes(deps: MessageRouteDeps): Router {
  const router = Router();
  const bodySchema = sendMessageBody(deps.maxMessageChars);

  router.get('/threads/:threadId/messages', async (req, res) => {
    const threadId = parseInput(idSchema, req.params.threadId, 'thread id');
    const query = parseInput(listMessagesQuery, req.query, 'query');
    const rows = await deps.messages.list(userIdOf(res), threadId, query.limit, query.before);
    res.json({ items: await deps.reader.withLiveContent(rows) });
  });

  router.post('/threads/:threadId/messages', async (req, res) => {
    const threadId = parseInput(idSchema, req.params.threadId, 'thread id');
    const body = parseInput(bodySchema, req.body);
    const rawKey = req.headers['idempotency-key'];
    const idempotencyKey = rawKey === undefined ? null : parseInput(idempotencyKeySchema, rawKey, 'Idempotency-Key header');
    const turn: NewTurn = { userId: userIdOf(res), threadId, content: body.content, model: body.model ?? deps.defaultModel, idempotencyKey };

    if (deps.sender) {
      res.status(202).json(await deps.sender.send(turn));
      return;
    }
    if (!deps.direct) throw new Error('neither background nor direct generation is configured');
    if (!wantsEventStream(req)) {
      throw new ApiError('invalid_request', 'background streaming is off: send with `Accept: text/event-stream` to stream the answer in the response');
    }
    const earlier = idempotencyKey ? await deps.messages.findByIdempotencyKey(turn.userId, threadId, idempotencyKey) : null;
    if (!earlier) await deps.direct.rateLimiter.consume(turn.userId);
    await deps.direct.generator.stream(res, earlier ?? (await deps.messages.createTurn(turn)));
  });

  return router;
}
