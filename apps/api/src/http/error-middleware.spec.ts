import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import express from 'express';
import { ApiError, ERROR_STATUS, type ErrorCode } from '@bgs/shared';
import { closeRedis, createDatabase, createRedis, type Logger } from '@bgs/server';
import { errorMiddleware, notFoundRoute } from './error-middleware';

/** A logger that records what it was asked to write. */
function recordingLogger() {
  const lines: Array<{ level: 'warn' | 'error'; fields: Record<string, unknown>; msg: string }> = [];
  const record = (level: 'warn' | 'error') => (fields: Record<string, unknown>, msg: string) => void lines.push({ level, fields, msg });
  return { lines, logger: { warn: record('warn'), error: record('error') } as unknown as Logger };
}

/** A port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The error a real client gives when its service is down. */
async function errorOf(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

describe('errorMiddleware', () => {
  const { lines, logger } = recordingLogger();
  let server: http.Server;
  let base: string;
  let thrown: unknown;

  beforeAll(async () => {
    const app = express();
    app.use(express.json({ limit: 1024 }));
    app.post('/echo', (req, res) => void res.json(req.body));
    app.get('/throw', async () => {
      throw thrown;
    });
    app.get('/half-sent', (_req, res) => {
      res.status(200).setHeader('content-type', 'text/plain');
      res.write('partial');
      throw new Error('failed after the headers went out');
    });
    app.use(notFoundRoute);
    app.use(errorMiddleware(logger));
    server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    lines.length = 0;
  });

  async function answerTo(err: unknown) {
    thrown = err;
    const res = await fetch(`${base}/throw`);
    return { status: res.status, headers: res.headers, text: await res.text() };
  }

  it.each(Object.entries(ERROR_STATUS) as Array<[ErrorCode, number]>)('ApiError %s answers %i with the documented JSON body', async (code, status) => {
    const res = await answerTo(new ApiError(code, `message for ${code}`));
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(JSON.parse(res.text)).toEqual({ error: { code, message: `message for ${code}` } });
  });

  it('carries details, and Retry-After when the error gives one', async () => {
    const details = [{ path: 'title', message: 'too long' }];
    const invalid = await answerTo(new ApiError('invalid_request', 'invalid request', details));
    expect(JSON.parse(invalid.text)).toEqual({ error: { code: 'invalid_request', message: 'invalid request', details } });
    expect(invalid.headers.get('retry-after')).toBeNull();

    const limited = await answerTo(new ApiError('rate_limited', 'slow down', undefined, 7));
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
  });

  it('a body over the limit is 413 payload_too_large', async () => {
    const res = await fetch(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'x'.repeat(4096) }) });
    expect(res.status).toBe(413);
    expect((await res.json()).error.code).toBe('payload_too_large');
  });

  it.each([
    ['broken JSON', { 'content-type': 'application/json' }, '{"title": '],
    ['a JSON primitive where strict mode wants an object', { 'content-type': 'application/json' }, '"just a string"'],
    ['an unsupported charset', { 'content-type': 'application/json; charset=latin1' }, '{}'],
    ['an unsupported content encoding', { 'content-type': 'application/json', 'content-encoding': 'x-unknown' }, '{}'],
  ])('%s is 400 invalid_request', async (_name, headers, body) => {
    const res = await fetch(`${base}/echo`, { method: 'POST', headers, body });
    expect(res.status).toBe(400);
    const json = await res.json();
    expect(json.error.code).toBe('invalid_request');
    expect(JSON.stringify(json)).not.toMatch(/at .*\.js|SyntaxError|node_modules/);
  });

  it('Postgres unreachable (a real Prisma error) is 503 unavailable with Retry-After', async () => {
    const db = createDatabase(`postgresql://nobody@127.0.0.1:${await closedPort()}/nothing`, { max: 1 });
    try {
      const err = await errorOf(() => db.prisma.$queryRaw`SELECT 1`);
      const res = await answerTo(err);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(JSON.parse(res.text).error.code).toBe('unavailable');
      expect(lines).toEqual([expect.objectContaining({ level: 'warn', msg: 'dependency unavailable' })]);
    } finally {
      await db.close();
    }
  });

  it.each([
    ['a pg connection refusal', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    ['Postgres shutting down (57P01)', Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })],
    ['a pool timeout', new Error('timeout exceeded when trying to connect')],
    ['ioredis giving up on a command', new Error('Reached the max retries per request limit (which is 1). Refer to "maxRetriesPerRequest" option for details.')],
    ['a closed Redis connection', new Error('Connection is closed.')],
  ])('%s is 503 unavailable', async (_name, err) => {
    const res = await answerTo(err);
    expect(res.status).toBe(503);
    expect(JSON.parse(res.text).error.code).toBe('unavailable');
  });

  it('Redis unreachable (a real fail-fast ioredis error) is 503 unavailable', async () => {
    const redis = createRedis({ kind: 'server', url: `redis://127.0.0.1:${await closedPort()}` }, { name: 'spec', failFast: true, lazyConnect: true, retryStrategy: () => null });
    redis.on('error', () => undefined);
    try {
      const err = await errorOf(() => redis.ping());
      const res = await answerTo(err);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    } finally {
      await closeRedis(redis);
    }
  });

  it.each([
    ['an Error', new Error('secret detail: password=hunter2')],
    ['a TypeError', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['a thrown string', 'plain string failure'],
    ['an object that is not an Error', { weird: true }],
  ])('%s is 500 internal, logged, and nothing of it leaks', async (_name, err) => {
    const res = await answerTo(err);
    expect(res.status).toBe(500);
    expect(JSON.parse(res.text)).toEqual({ error: { code: 'internal', message: 'internal error' } });
    expect(res.text).not.toMatch(/hunter2|Cannot read|plain string|weird|\bat\b/);
    expect(lines).toEqual([expect.objectContaining({ level: 'error', msg: 'unhandled error' })]);
  });

  it('an unknown route is a JSON 404, not an HTML page', async () => {
    const res = await fetch(`${base}/nowhere`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect((await res.json()).error.code).toBe('not_found');
  });

  it('an error after the headers were sent ends the response instead of writing a second one', async () => {
    const res = await fetch(`${base}/half-sent`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('partial');
    expect(lines).toEqual([expect.objectContaining({ level: 'error' })]);
  });
});
