import { ERROR_STATUS } from '@bgs/shared';
import { inertApp } from '../../../../test/support/inert-app';
import { RouteLabels } from '../observability/http-metrics';
import { buildOpenApiDocument } from './openapi-document';
import { listAppRoutes, toOpenApiPath } from './route-list';

const appWith = inertApp;

const documented = (doc: ReturnType<typeof buildOpenApiDocument>) =>
  Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`));

describe('the OpenAPI document', () => {
  it.each([
    { devTokens: true, queueBoard: true },
    { devTokens: false, queueBoard: false },
  ])('documents exactly the routes the router answers (%o)', (options) => {
    const routes = listAppRoutes(appWith(options)).map((r) => `${r.method} ${toOpenApiPath(r.path)}`);
    const doc = buildOpenApiDocument({ maxMessageChars: 32_000, ...options });
    expect(routes.length).toBeGreaterThan(15);
    expect(documented(doc).filter((op) => op !== 'GET /admin/queues').sort()).toEqual([...new Set(routes)].sort());
    expect(documented(doc).includes('GET /admin/queues')).toBe(options.queueBoard);
    expect(documented(doc).includes('POST /api/dev/token')).toBe(options.devTokens);
  });

  it('is OpenAPI 3.1 whose every error answer is the one Error schema, listing every code', () => {
    const doc = buildOpenApiDocument({ maxMessageChars: 32_000, devTokens: false, queueBoard: false });
    expect(doc.openapi).toBe('3.1.0');
    const error = doc.components.schemas.Error as any;
    expect(error.properties.error.properties.code.enum.sort()).toEqual(Object.keys(ERROR_STATUS).sort());
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops) as Array<[string, any]>) {
        const errors = Object.entries(op.responses).filter(([status]) => Number(status) >= 400);
        // An operation behind bearer auth (no `security` override) documents its 401.
        if (!op.security) expect([`${method} ${path}`, op.responses['401']]).toEqual([`${method} ${path}`, { $ref: '#/components/responses/Error401' }]);
        for (const [status, answer] of errors) expect(answer).toEqual({ $ref: `#/components/responses/Error${status}` });
      }
    }
    for (const answer of Object.values(doc.components.responses) as any[]) {
      expect(answer.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });
    }
  });

  it('uses the validators themselves: the configured message limit shows in the send body', () => {
    const doc = buildOpenApiDocument({ maxMessageChars: 1234, devTokens: false, queueBoard: false }) as any;
    const body = doc.paths['/api/threads/{threadId}/messages'].post.requestBody.content['application/json'].schema;
    expect(body).toMatchObject({ required: ['content'], additionalProperties: false, properties: { content: { maxLength: 1234 } } });
    const params = doc.paths['/api/notifications'].get.parameters.map((p: any) => `${p.in}:${p.name}`);
    expect(params).toEqual(['query:unread', 'query:limit', 'query:cursor']);
    // Every $ref points at a schema the document holds.
    const refs = JSON.stringify(doc).match(/#\/components\/schemas\/\w+/g) ?? [];
    for (const ref of refs) expect(doc.components.schemas[ref.split('/').pop() as string]).toBeDefined();
  });
});

describe('HTTP metric route labels', () => {
  const labels = new RouteLabels(listAppRoutes(appWith({ devTokens: true, queueBoard: true })), ['/admin/queues']);

  it('names a request by its route template, so ids never become labels', () => {
    expect(labels.label('GET', '/api/threads/0b7f6f7e-8d1e-4c36-9a55-1e2b3c4d5e6f/messages')).toBe('/api/threads/:threadId/messages');
    expect(labels.label('POST', '/api/streams/abc/cancel')).toBe('/api/streams/:streamId/cancel');
    expect(labels.label('HEAD', '/healthz')).toBe('/healthz');
    expect(labels.label('GET', '/admin/queues/api/queues')).toBe('/admin/queues/*');
  });

  it('puts every unknown path or method under one label', () => {
    expect(labels.label('GET', '/wp-admin.php')).toBe('unmatched');
    expect(labels.label('PUT', '/api/threads')).toBe('unmatched');
  });
});
