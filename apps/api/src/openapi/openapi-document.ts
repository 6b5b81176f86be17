import { z } from 'zod';
import { ERROR_STATUS, type ErrorCode } from '@bgs/shared';
import { version } from '../../../../package.json';
import { ADMIN_COOKIE } from '../admin/admin-auth';
import { operations, type Operation, type OperationOptions } from './operations';
import { errorBodySchema } from './response-schemas';
import { toOpenApiPath } from './route-list';

type Json = Record<string, unknown>;

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: Json;
  paths: Record<string, Record<string, Json>>;
  components: { schemas: Record<string, Json>; responses: Record<string, Json>; securitySchemes: Record<string, Json> };
  [key: string]: unknown;
}

/**
 * Turns zod schemas into OpenAPI 3.1 schemas (JSON Schema 2020-12) with zod's own
 * `z.toJSONSchema`. Schemas that carry an `id` in their metadata become
 * `components.schemas` entries, referenced wherever they appear.
 */
class SchemaCollector {
  readonly components: Record<string, Json> = {};

  convert(schema: z.ZodType, io: 'input' | 'output'): Json {
    const json = z.toJSONSchema(schema, {
      io,
      unrepresentable: 'any',
      override: ({ jsonSchema }) => {
        const s = jsonSchema as Json;
        // The format says it; zod's long regexes only add noise.
        if (s.format === 'uuid' || s.format === 'date-time') delete s.pattern;
        // Answers may gain fields; requests are strict (unknown fields are a 400).
        if (io === 'output' && s.additionalProperties === false) delete s.additionalProperties;
      },
    }) as Json;
    delete json.$schema;
    const defs = (json.$defs ?? {}) as Record<string, Json>;
    delete json.$defs;
    for (const [id, def] of Object.entries(defs)) this.components[id] = rewriteRefs(def) as Json;
    return rewriteRefs(json) as Json;
  }
}

function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, k === '$ref' && typeof v === 'string' ? v.replace('#/$defs/', '#/components/schemas/') : rewriteRefs(v)]),
  );
}

const ERROR_RESPONSE: Record<number, string> = {
  400: 'invalid_request: the body, query, path or a header failed validation (zod issues in `details`)',
  401: 'unauthorized: missing, invalid or expired token',
  404: 'not_found: missing, or belongs to another user (indistinguishable on purpose)',
  409: 'stream_in_progress: the thread already has an active stream',
  413: 'payload_too_large',
  429: 'rate_limited: too many sends; see Retry-After',
  500: 'internal: never for bad input; logged with the request',
  503: 'unavailable: Postgres or Redis is down; see Retry-After',
};

function operationObject(op: Operation, schemas: SchemaCollector): Json {
  const parameters: Json[] = [];
  for (const [name, schema] of Object.entries(op.params ?? {})) parameters.push({ name, in: 'path', required: true, schema: schemas.convert(schema, 'input') });
  if (op.query) {
    const query = schemas.convert(op.query, 'input') as { properties?: Record<string, Json>; required?: string[] };
    for (const [name, schema] of Object.entries(query.properties ?? {})) {
      parameters.push({ name, in: 'query', required: query.required?.includes(name) ?? false, schema });
    }
  }
  for (const [name, h] of Object.entries(op.headers ?? {})) parameters.push({ name, in: 'header', required: false, description: h.description, schema: schemas.convert(h.schema, 'input') });

  const responses: Json = {};
  for (const [status, answer] of Object.entries(op.answers)) {
    const content = answer.json
      ? { 'application/json': { schema: schemas.convert(answer.json, 'output') } }
      : answer.media
        ? { [answer.media]: {} }
        : status === '200'
          ? { 'application/json': {} }
          : undefined;
    responses[status] = { description: answer.description, ...(content ? { content } : {}) };
  }
  const statuses = [...new Set(op.errors.map((code: ErrorCode) => ERROR_STATUS[code]))].sort();
  for (const status of [...statuses, 500]) responses[String(status)] = { $ref: `#/components/responses/Error${status}` };

  return {
    operationId: `${op.method}${toOpenApiPath(op.path).replace(/[{}]/g, '').split('/').filter(Boolean).map((w) => w[0].toUpperCase() + w.slice(1).replace(/[^\w]/g, '')).join('')}`,
    summary: op.summary,
    tags: [op.tag],
    ...(op.auth === 'user' ? {} : { security: op.auth === 'admin' ? [{ adminBearer: [] }, { adminCookie: [] }, { adminQuery: [] }] : [] }),
    ...(parameters.length ? { parameters } : {}),
    ...(op.body ? { requestBody: requestBody(schemas.convert(op.body, 'input')) } : {}),
    responses,
  };
}

/** A body with no required field (`{title?}`) may be left out altogether. */
function requestBody(schema: Json): Json {
  const required = Array.isArray(schema.required) && schema.required.length > 0;
  return { required, content: { 'application/json': { schema } } };
}

/**
 * The OpenAPI 3.1 document of this deployment's HTTP API, served at
 * `GET /api/openapi.json`. Built once at start-up from the operation table.
 */
export function buildOpenApiDocument(options: OperationOptions): OpenApiDocument {
  const schemas = new SchemaCollector();
  schemas.convert(errorBodySchema, 'output');
  const paths: OpenApiDocument['paths'] = {};
  for (const op of operations(options)) {
    const path = toOpenApiPath(op.path);
    paths[path] ??= {};
    paths[path][op.method] = operationObject(op, schemas);
  }
  const responses = Object.fromEntries(
    Object.entries(ERROR_RESPONSE).map(([status, description]) => [
      `Error${status}`,
      { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
    ]),
  );
  return {
    openapi: '3.1.0',
    info: {
      title: 'Background generation API',
      version,
      description: 'REST side of the background streams backend. Realtime events (socket.io) are described in docs/protocol.md (#realtime-events), not here.',
    },
    servers: [{ url: '/' }],
    security: [{ bearerAuth: [] }],
    tags: ['threads', 'messages', 'chat', 'streams', 'notifications', 'meta', 'auth', 'operations'].map((name) => ({ name })),
    paths,
    components: {
      schemas: schemas.components,
      responses,
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'HS256, signed with AUTH_SECRET; `sub` is the user id' },
        adminBearer: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN' },
        adminCookie: { type: 'apiKey', in: 'cookie', name: ADMIN_COOKIE, description: 'set by opening the page once with ?token=' },
        adminQuery: { type: 'apiKey', in: 'query', name: 'token', description: 'ADMIN_TOKEN, once; answered with a redirect that sets the cookie' },
      },
    },
  };
}
