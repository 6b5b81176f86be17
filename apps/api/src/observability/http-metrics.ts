import type { RequestHandler } from 'express';
import type { Histogram } from 'prom-client';
import type { AppRoute } from '../openapi/route-list';

/**
 * Names a request by the route that answers it (`/api/threads/:threadId`), so the
 * duration histogram has one series per route, not one per thread id. Paths under a
 * mounted sub-application (Bull Board) are one label each; anything else is
 * `unmatched` (404s cannot grow the label set).
 */
export class RouteLabels {
  private readonly routes: Array<{ method: string; path: string; pattern: RegExp }>;

  constructor(
    routes: AppRoute[],
    private readonly mounts: string[] = [],
  ) {
    this.routes = routes.map((r) => ({ ...r, pattern: compile(r.path) }));
  }

  label(method: string, path: string): string {
    const wanted = method === 'HEAD' ? 'GET' : method;
    const route = this.routes.find((r) => (r.method === wanted || r.method === '*') && r.pattern.test(path));
    if (route) return route.path;
    const mount = this.mounts.find((m) => path === m || path.startsWith(`${m}/`));
    return mount ? `${mount}/*` : 'unmatched';
  }
}

function compile(path: string): RegExp {
  const escaped = path.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/:(\w+)/g, '[^/]+');
  return new RegExp(`^${escaped}/?$`);
}

/**
 * Times every HTTP request until its response closes (finished or aborted, so a
 * long SSE answer counts its whole length). The route is resolved when the response
 * closes, by which time every route is registered.
 */
export function httpMetrics(histogram: Histogram<'method' | 'route' | 'status'>, labels: () => RouteLabels): RequestHandler {
  return (req, res, next) => {
    const end = histogram.startTimer();
    const { method, path } = req; // before any router rewrites req.url
    res.once('close', () => end({ method, route: labels().label(method, path), status: String(res.statusCode) }));
    next();
  };
}
