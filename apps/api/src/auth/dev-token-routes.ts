import { Router } from 'express';
import { devTokenBody } from '@bgs/shared';
import { parseInput } from '../http/validate';
import { signToken } from './tokens';

/**
 * `POST /api/dev/token {"userId", "expiresInS"?}` → a token valid `expiresInS` seconds (1–86400;
 * 24 hours when absent); only mounted when AUTH_DEV_TOKENS is on (never in production).
 */
export function devTokenRoutes(secret: string): Router {
  const router = Router();
  router.post('/dev/token', (req, res) => {
    const { userId, expiresInS } = parseInput(devTokenBody, req.body);
    res.json({ token: signToken(userId, secret, expiresInS) });
  });
  return router;
}
