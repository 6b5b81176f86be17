import { Router } from 'express';
import { createThreadBody, threadIdSchema, listThreadsQuery, patchThreadBody } from '@bgs/shared';
import { toThread } from '@bgs/server';
import { userIdOf } from '../auth/require-user';
import { decodeCursor } from '../http/cursor';
import { parseInput } from '../http/validate';
import type { ThreadDeletedPort } from '../realtime/thread-deletions';
import type { StreamCanceller } from '../streams/stream-canceller';
import type { ThreadStore } from './thread-store';

export interface ThreadRouteDeps {
  threads: ThreadStore;
  canceller: StreamCanceller;
  /** Tells the user's sockets on every instance (background mode; direct mode has no sockets to tell). */
  deletions: ThreadDeletedPort;
}

export function threadRoutes(deps: ThreadRouteDeps): Router {
  const { threads, canceller, deletions } = deps;
  const router = Router();

  router.post('/threads', async (req, res) => {
    const body = parseInput(createThreadBody, req.body);
    res.status(201).json(toThread(await threads.create(userIdOf(res), body.title)));
  });

  router.get('/threads', async (req, res) => {
    const query = parseInput(listThreadsQuery, req.query, 'query');
    const { rows, nextCursor } = await threads.list(userIdOf(res), query.limit, decodeCursor(query.cursor));
    res.json({ items: rows.map(toThread), nextCursor });
  });

  router.get('/threads/:threadId', async (req, res) => {
    const threadId = parseInput(threadIdSchema, req.params.threadId, 'thread id');
    res.json(toThread(await threads.get(userIdOf(res), threadId)));
  });

  router.patch('/threads/:threadId', async (req, res) => {
    const threadId = parseInput(threadIdSchema, req.params.threadId, 'thread id');
    const body = parseInput(patchThreadBody, req.body);
    res.json(toThread(await threads.update(userIdOf(res), threadId, body)));
  });

  router.delete('/threads/:threadId', async (req, res) => {
    const threadId = parseInput(threadIdSchema, req.params.threadId, 'thread id');
    const thread = await threads.get(userIdOf(res), threadId);
    const active = await threads.activeStream(thread);
    await threads.delete(userIdOf(res), threadId);
    // After the delete, so no new stream can start on the thread in between.
    if (active) await canceller.cancelDeleted(active);
    // After the cancel, so the thread's sockets get `stream.cancelled` before they leave its room;
    // before the answer, so a thread created again under this id starts with no room or presence.
    await deletions.threadDeleted(userIdOf(res), threadId);
    res.status(204).end();
  });

  return router;
}
