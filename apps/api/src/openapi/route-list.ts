import type { Express } from 'express';

/** One method + path the app answers, in express syntax (`/api/threads/:threadId`). */
export interface AppRoute {
  method: string;
  path: string;
}

/** What router@2.3's `listRoutes()` returns for one registered path. */
interface RouteInfo {
  path: string | RegExp;
  methods?: string[];
  router?: ListsRoutes;
}

interface ListsRoutes {
  listRoutes?(): RouteInfo[];
}

const join = (prefix: string, path: string) => (`${prefix}/${path}`.replace(/\/+/g, '/').replace(/(.)\/$/, '$1'));

/**
 * Every route the app's router answers, nested routers resolved. HEAD (answered by
 * every GET) is left out. Sub-applications (Bull Board) are opaque to the router and
 * do not appear. Used by the OpenAPI test and to label HTTP metrics with templates.
 */
export function listAppRoutes(app: Express): AppRoute[] {
  const routes: AppRoute[] = [];
  const walk = (router: ListsRoutes, prefix: string) => {
    if (typeof router.listRoutes !== 'function') throw new Error('the router cannot list its routes (router@2.3 or newer is needed)');
    for (const info of router.listRoutes()) {
      if (typeof info.path !== 'string') throw new Error(`route ${String(info.path)}: only string paths can be documented`);
      const path = join(prefix, info.path);
      if (info.router) walk(info.router, path);
      else for (const method of info.methods ?? []) if (method !== 'HEAD') routes.push({ method, path });
    }
  };
  walk(app.router as unknown as ListsRoutes, '');
  return routes;
}

/** `/threads/:threadId` → `/threads/{threadId}` (OpenAPI path templating). */
export const toOpenApiPath = (path: string) => path.replace(/:(\w+)/g, '{$1}');
