import { Router } from 'express';
import { idSchema, listNotificationsQuery, notFound } from '@bgs/shared';
import { toNotification, type PrismaClient } from '@bgs/server';
import { userIdOf } from '../auth/require-user';
import { decodeCursor, olderThan, page } from '../http/cursor';
import { parseInput } from '../http/validate';

export function notificationRoutes(prisma: PrismaClient): Router {
  const router = Router();

  router.get('/notifications', async (req, res) => {
    const query = parseInput(listNotificationsQuery, req.query, 'query');
    const rows = await prisma.notification.findMany({
      where: { userId: userIdOf(res), ...(query.unread === true ? { readAt: null } : {}), ...olderThan(decodeCursor(query.cursor), 'createdAt') },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: query.limit + 1,
    });
    const { rows: items, nextCursor } = page(rows, query.limit, (n) => n.createdAt);
    res.json({ items: items.map(toNotification), nextCursor });
  });

  router.post('/notifications/read-all', async (_req, res) => {
    await prisma.notification.updateMany({ where: { userId: userIdOf(res), readAt: null }, data: { readAt: new Date() } });
    res.status(204).end();
  });

  router.post('/notifications/:notificationId/read', async (req, res) => {
    const id = parseInput(idSchema, req.params.notificationId, 'notification id');
    const userId = userIdOf(res);
    const { count } = await prisma.notification.updateMany({ where: { id, userId, readAt: null }, data: { readAt: new Date() } });
    if (count === 0 && !(await prisma.notification.findFirst({ where: { id, userId }, select: { id: true } }))) throw notFound('notification');
    res.status(204).end();
  });

  return router;
}
