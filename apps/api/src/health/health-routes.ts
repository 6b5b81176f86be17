import { Router } from 'express';
import { ApiError, type Capabilities } from '@bgs/shared';
import type { PrismaClient, Redis } from '@bgs/server';

const withTimeout = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref())]);

/** `/healthz`: the process answers. `/readyz`: Postgres (and Redis in background mode) answer too. */
export function healthRoutes(deps: { prisma: PrismaClient; redis: Redis | null }): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  router.get('/readyz', async (_req, res) => {
    const checks: Record<string, 'ok' | 'unavailable'> = {};
    const probe = async (name: string, check: () => Promise<unknown>) => {
      checks[name] = await withTimeout(check(), 1_000).then(() => 'ok' as const, () => 'unavailable' as const);
    };
    await Promise.all([
      probe('postgres', () => deps.prisma.$queryRaw`SELECT 1`),
      ...(deps.redis ? [probe('redis', () => (deps.redis as Redis).ping())] : []),
    ]);
    if (Object.values(checks).every((c) => c === 'ok')) return void res.json({ status: 'ready', checks });
    throw new ApiError('unavailable', 'not ready', { checks }, 2);
  });
  return router;
}

export function capabilitiesRoute(capabilities: Capabilities): Router {
  return Router().get('/capabilities', (_req, res) => void res.json(capabilities));
}
