import { Router } from 'express';
import type { OpenApiDocument } from './openapi-document';

/** `GET /api/openapi.json` (mounted under /api, before auth): the document, built once. */
export function openApiRoutes(document: OpenApiDocument): Router {
  const body = JSON.stringify(document);
  return Router().get('/openapi.json', (_req, res) => {
    res.type('application/json').send(body);
  });
}
