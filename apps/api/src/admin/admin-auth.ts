import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { ApiError } from '@bgs/shared';
import { bearerToken } from '../auth/tokens';

export const ADMIN_COOKIE = 'bgs_admin';
const COOKIE_MAX_AGE_S = 8 * 3600;

const same = (a: string, b: string) => {
  const [x, y] = [Buffer.from(a), Buffer.from(b)];
  return x.length === y.length && timingSafeEqual(x, y);
};

function cookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

/**
 * Guards the admin pages with ADMIN_TOKEN, three ways:
 * - `Authorization: Bearer <ADMIN_TOKEN>` (scripts, curl);
 * - `?token=<ADMIN_TOKEN>` once, so a browser can open the page: the answer is a redirect
 *   to the same URL without the token (out of the address bar and history) that sets an
 *   HttpOnly, SameSite=Strict cookie scoped to `basePath`, valid 8 hours;
 * - that cookie. It holds an HMAC of the token, never the token itself.
 * Anything else is a 401 in the API's JSON error shape.
 */
export function adminAuth(adminToken: string, basePath: string): RequestHandler {
  const session = createHmac('sha256', adminToken).update('bgs admin session').digest('base64url');
  return (req, res, next) => {
    const header = req.headers.authorization;
    if (header !== undefined) {
      return same(bearerToken(header) ?? '', adminToken) ? next() : next(new ApiError('unauthorized', 'admin token required'));
    }
    const query = typeof req.query.token === 'string' ? req.query.token : undefined;
    if (query !== undefined) {
      if (!same(query, adminToken)) return next(new ApiError('unauthorized', 'admin token required'));
      // Only ever makes the cookie stricter, so the proxy's header need not be trusted.
      const secure = req.secure || req.headers['x-forwarded-proto'] === 'https' ? '; Secure' : '';
      res.setHeader('Set-Cookie', `${ADMIN_COOKIE}=${session}; Path=${basePath}; HttpOnly; SameSite=Strict; Max-Age=${COOKIE_MAX_AGE_S}${secure}`);
      res.setHeader('Cache-Control', 'no-store');
      return res.redirect(303, withoutToken(req.originalUrl));
    }
    const held = cookie(req, ADMIN_COOKIE);
    if (held !== undefined && same(held, session)) return next();
    next(new ApiError('unauthorized', 'admin token required: send Authorization: Bearer <ADMIN_TOKEN>, or open this page once with ?token=<ADMIN_TOKEN>'));
  };
}

function withoutToken(originalUrl: string): string {
  const url = new URL(originalUrl, 'http://admin.invalid');
  url.searchParams.delete('token');
  return `${url.pathname}${url.search}`;
}
