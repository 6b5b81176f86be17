import path from 'node:path';
import express, { Router } from 'express';
import { ApiError } from '@bgs/shared';

/** Where the demo page's script and styles are served from (static files, not API routes). */
export const DEMO_ASSETS_PATH = '/demo';

/**
 * The built page: the API runs as dist/api/main.js and scripts/build.mjs writes the page
 * (index.html, chat.js, chat.css) to dist/demo.
 */
export const DEFAULT_DEMO_DIR = path.resolve(__dirname, '..', 'demo');

/**
 * The demo chat page: `GET /` is the page, `/demo/*` its script and styles. Both are
 * revalidated on every load (no-cache) so a rebuilt page is picked up at once.
 */
export function demoRoutes(dir = DEFAULT_DEMO_DIR): Router {
  const router = Router();
  const noCache = (res: express.Response) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Content-Type-Options', 'nosniff');
  };
  router.get('/', (_req, res, next) => {
    noCache(res);
    res.sendFile(path.join(dir, 'index.html'), (err) => {
      if (err && !res.headersSent) next(new ApiError('not_found', 'the demo page is not built: run `npm run build`'));
    });
  });
  router.use(DEMO_ASSETS_PATH, express.static(dir, { index: false, redirect: false, setHeaders: noCache }));
  return router;
}
