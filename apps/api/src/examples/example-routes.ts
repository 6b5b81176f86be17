import path from 'node:path';
import express, { Router } from 'express';
import { ApiError } from '@bgs/shared';

/** The AI SDK example page; its script and styles are static files below it. */
export const AI_SDK_EXAMPLE_PATH = '/examples/ai-sdk';

/**
 * The built examples: the API runs as dist/api/main.js and scripts/build.mjs writes the AI SDK
 * page (index.html, chat-example.js, chat-example.css) to dist/examples/ai-sdk.
 */
export const DEFAULT_EXAMPLES_DIR = path.resolve(__dirname, '..', 'examples');

/**
 * The example pages: `GET /examples/ai-sdk` is the AI SDK page (@ai-sdk/vue against
 * /api/chat), `/examples/ai-sdk/*` its script and styles. Revalidated on every load
 * (no-cache) so a rebuilt page is picked up at once.
 */
export function exampleRoutes(dir = DEFAULT_EXAMPLES_DIR): Router {
  const router = Router();
  const pageDir = path.join(dir, 'ai-sdk');
  const noCache = (res: express.Response) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Content-Type-Options', 'nosniff');
  };
  router.get(AI_SDK_EXAMPLE_PATH, (_req, res, next) => {
    noCache(res);
    res.sendFile(path.join(pageDir, 'index.html'), (err) => {
      if (err && !res.headersSent) next(new ApiError('not_found', 'the example page is not built: run `npm run build`'));
    });
  });
  router.use(AI_SDK_EXAMPLE_PATH, express.static(pageDir, { index: false, redirect: false, setHeaders: noCache }));
  return router;
}
