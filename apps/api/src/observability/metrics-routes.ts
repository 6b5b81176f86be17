import { Router } from 'express';
import type { Registry } from 'prom-client';

/** `GET /metrics`: Prometheus text format of this instance. Public like /healthz: keep it off the internet at the proxy. */
export function metricsRoutes(registry: Registry): Router {
  return Router().get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', registry.contentType);
    res.send(await registry.metrics());
  });
}
