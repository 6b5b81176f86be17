import { Router } from 'express';
import { ApiError, type Capabilities } from '@bgs/shared';

const withTimeout = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref())]);

/** A dependency `/readyz` checks: Postgres always, Redis in background mode. */
export type ReadinessChecks = Record<string, () => Promise<unknown>>;

/** `/healthz`: the process answers. `/readyz`: every dependency answers too. */
export function healthRoutes(checksToRun: ReadinessChecks): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  router.get('/readyz', async (_req, res) => {
    const checks: Record<string, 'ok' | 'unavailable'> = {};
    const probe = async (name: string, check: () => Promise<unknown>) => {
      checks[name] = await withTimeout(check(), 1_000).then(() => 'ok' as const, () => 'unavailable' as const);
    };
    await Promise.all(Object.entries(checksToRun).map(([name, check]) => probe(name, check)));
    if (Object.values(checks).every((c) => c === 'ok')) return void res.json({ status: 'ready', checks });
    throw new ApiError('unavailable', 'not ready', { checks }, 2);
  });
  return router;
}

export function capabilitiesRoute(capabilities: Capabilities): Router {
  return Router().get('/capabilities', (_req, res) => void res.json(capabilities));
}
