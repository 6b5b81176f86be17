import { Router } from 'express';
import { idSchema, notFound } from '@bgs/shared';
import type { PrismaClient } from '@bgs/server';
import { userIdOf } from '../auth/require-user';
import { parseInput } from '../http/validate';
import type { StreamCanceller } from './stream-canceller';
import type { StreamReader } from './stream-reader';

export function streamRoutes(deps: { reader: StreamReader; canceller: StreamCanceller; prisma: PrismaClient }): Router {
  const router = Router();

  router.get('/streams/:streamId', async (req, res) => {
    const streamId = parseInput(idSchema, req.params.streamId, 'stream id');
    res.json(await deps.reader.get(userIdOf(res), streamId));
  });

  router.post('/streams/:streamId/cancel', async (req, res) => {
    const streamId = parseInput(idSchema, req.params.streamId, 'stream id');
    const stream = await deps.prisma.stream.findFirst({ where: { id: streamId, userId: userIdOf(res) } });
    if (!stream) throw notFound('stream');
    await deps.canceller.cancel(stream);
    res.status(202).json({ streamId, status: 'cancelling' });
  });

  return router;
}
