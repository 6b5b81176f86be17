import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Router } from 'express';
import type { Queue } from 'bullmq';
import { adminAuth } from './admin-auth';

export const QUEUE_BOARD_PATH = '/admin/queues';

/**
 * Bull Board (jobs by state, retry, clean) at `/admin/queues`, behind ADMIN_TOKEN.
 * Without a token configured it is not mounted at all, so the path is a plain 404.
 */
export function queueBoardRoutes(adminToken: string, queues: Queue[]): Router {
  const board = new ExpressAdapter();
  board.setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({ queues: queues.map((q) => new BullMQAdapter(q)), serverAdapter: board, options: { uiConfig: { boardTitle: 'Generations' } } });
  const router = Router();
  router.use(QUEUE_BOARD_PATH, adminAuth(adminToken, QUEUE_BOARD_PATH), board.getRouter());
  return router;
}
