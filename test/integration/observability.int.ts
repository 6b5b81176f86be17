import { ERROR_STATUS } from '@bgs/shared';
import { simulatedAnswer } from '@bgs/server';
import { listAppRoutes, toOpenApiPath } from '../../apps/api/src/openapi/route-list';
import { eventually, httpClient } from '../support/http';
import { inertApp } from '../support/inert-app';
import type { LogLine, ManagedProcess } from '../support/processes';
import { closeThread, connectSocket, nextEvent, openThread, type TestSocket } from '../support/sockets';
import { TestSystem } from '../support/system';

const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format → samples (comments skipped). */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels include `labels`; undefined when there is none. */
function metric(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return hits.length ? hits.reduce((sum, s) => sum + s.value, 0) : undefined;
}

async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return parseMetrics(await res.text());
}

/** docs/protocol.md#health-metrics-admin-openapi (running it for real): metrics that move, an admin board behind a token, the API document, logs. */
describe('observability', () => {
  let system: TestSystem;
  let worker: ManagedProcess;
  let workerMetricsUrl: string;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    system = await TestSystem.start({ apis: 1, workers: 0, env: { FRAME_MS: '20', ADMIN_TOKEN } });
    worker = await system.addWorker({ METRICS_PORT: '0' });
    const line = await worker.waitForLog((l) => l.msg === 'metrics listening', 5_000, 'metrics listening');
    workerMetricsUrl = `http://127.0.0.1:${line.port as number}`;
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.disconnect();
  });
  afterAll(async () => {
    await system?.stop();
  });

  async function socketFor(token: string) {
    const s = await connectSocket(system.url(), token);
    sockets.push(s);
    return s;
  }

  it('after streams, the worker counts every frame, token and flush, how they ended and each notification decision', async () => {
    const api = await system.client('metrics-alice');
    const before = await scrape(workerMetricsUrl);
    const count = (samples: Sample[], name: string, labels?: Record<string, string>) => metric(samples, name, labels) ?? 0;

    // One stream on a thread nobody looks at (notified), one on a thread open in a socket (skipped).
    const closed = (await api.post('/api/threads', { title: 'closed' })).body.id as string;
    const open = (await api.post('/api/threads', { title: 'open' })).body.id as string;
    const socket = await socketFor(api.token);
    expect((await openThread(socket, open)).ok).toBe(true);
    const contents = { closed: 'Count frames [sim tokens=30 rate=300]', open: 'Count more [sim tokens=20 rate=300]' };
    const openDone = nextEvent(socket, 'stream.completed', (e) => e.threadId === open);
    const sentClosed = await api.post(`/api/threads/${closed}/messages`, { content: contents.closed });
    const sentOpen = await api.post(`/api/threads/${open}/messages`, { content: contents.open });
    expect([sentClosed.status, sentOpen.status]).toEqual([202, 202]);
    await openDone;
    const ended = await Promise.all(
      [sentClosed, sentOpen].map((sent) =>
        eventually(async () => {
          const s = (await api.get(`/api/streams/${sent.body.stream.id}`)).body;
          return s.status === 'completed' ? s : undefined;
        }, 'completion'),
      ),
    );
    expect(ended.map((s) => s.content)).toEqual([simulatedAnswer(contents.closed, 30).join(''), simulatedAnswer(contents.open, 20).join('')]);

    // Decisions are made by the listener after the job ends: poll the counter until both are in.
    const after = await eventually(async () => {
      const samples = await scrape(workerMetricsUrl);
      const decided = count(samples, 'bgs_notification_decisions_total') - count(before, 'bgs_notification_decisions_total');
      return decided >= 2 ? samples : undefined;
    }, 'two notification decisions');
    const delta = (name: string, labels?: Record<string, string>) => count(after, name, labels) - count(before, name, labels);

    const frames = ended[0].seq + ended[1].seq;
    expect(delta('bgs_frames_emitted_total')).toBe(frames);
    expect(delta('bgs_tokens_emitted_total')).toBe(30 + 20);
    expect(delta('bgs_frame_chars_emitted_total')).toBe(ended[0].content.length + ended[1].content.length);
    expect(delta('bgs_frame_flush_seconds_count')).toBe(frames);
    expect(delta('bgs_frame_flush_seconds_sum')).toBeGreaterThan(0);
    expect(delta('bgs_generations_ended_total', { status: 'completed' })).toBe(2);
    expect(delta('bgs_notification_decisions_total', { decision: 'ai.message.received' })).toBe(1);
    expect(delta('bgs_notification_decisions_total', { decision: 'skipped_open' })).toBe(1);
    expect(metric(after, 'bgs_generations_running')).toBe(0);
    expect(metric(after, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('the API times requests by route template and shows its queue, sockets, rooms, listeners and presence', async () => {
    const api = await system.client('metrics-bob');
    const thread = (await api.post('/api/threads', { title: 'gauges' })).body.id as string;
    await api.get(`/api/threads/${thread}`);
    await api.get('/no/such/route');
    const idle = await scrape(system.url());

    const socket = await socketFor(api.token);
    expect((await openThread(socket, thread)).ok).toBe(true);
    const busy = await scrape(system.url());
    const gauge = (samples: Sample[], name: string) => metric(samples, name);
    expect(gauge(busy, 'bgs_socket_connections')).toBe((gauge(idle, 'bgs_socket_connections') ?? 0) + 1);
    expect(gauge(busy, 'bgs_presence_entries')).toBe((gauge(idle, 'bgs_presence_entries') ?? 0) + 1);
    expect(gauge(busy, 'bgs_presence_sockets')).toBe((gauge(idle, 'bgs_presence_sockets') ?? 0) + 1);
    // Its own room, its user's room and the thread's room.
    expect(gauge(busy, 'bgs_socket_rooms')).toBe((gauge(idle, 'bgs_socket_rooms') ?? 0) + 3);
    expect(gauge(busy, 'bgs_socket_event_listeners')).toBeGreaterThan(gauge(idle, 'bgs_socket_event_listeners') ?? 0);

    // Closing and leaving gives everything back: what a leak test compares.
    expect((await closeThread(socket, thread)).ok).toBe(true);
    socket.disconnect();
    await eventually(async () => {
      const now = await scrape(system.url());
      const names = ['bgs_socket_connections', 'bgs_presence_entries', 'bgs_socket_rooms', 'bgs_socket_event_listeners'];
      return names.every((n) => gauge(now, n) === gauge(idle, n)) ? true : undefined;
    }, 'gauges back to their baseline');

    for (const state of ['waiting', 'active', 'delayed', 'failed']) expect(metric(idle, 'bgs_queue_jobs', { state })).toBeGreaterThanOrEqual(0);
    const http = (route: string, status: string) => metric(idle, 'bgs_http_request_duration_seconds_count', { route, status }) ?? 0;
    expect(http('/api/threads', '201')).toBeGreaterThanOrEqual(1);
    expect(http('/api/threads/:threadId', '200')).toBeGreaterThanOrEqual(1);
    expect(http('unmatched', '404')).toBeGreaterThanOrEqual(1);
    // Ids never become labels.
    expect(idle.some((s) => s.labels.route?.includes(thread))).toBe(false);
  });

  it('every worker generation line carries stream, thread, attempt and job ids, with one line at start and one at end', async () => {
    const api = await system.client('metrics-carol');
    const thread = (await api.post('/api/threads', { title: 'logs' })).body.id as string;
    const streamId = (await api.post(`/api/threads/${thread}/messages`, { content: 'Log me [sim tokens=80 rate=400]' })).body.stream.id as string;
    await worker.waitForLog((l) => l.msg === 'generation ended' && l.streamId === streamId, 15_000, 'generation ended');

    const generation = worker.lines.filter((l: LogLine) => l.streamId === streamId && l.msg !== 'notification decided');
    expect(generation.map((l) => l.msg)).toEqual(['generation started', 'generation ended']);
    for (const line of generation) expect(line).toMatchObject({ streamId, threadId: thread, jobId: streamId, attempt: 1 });
    expect(generation[1]).toMatchObject({ status: 'completed', tokens: 80 });
  });

  describe('the queue board at /admin/queues', () => {
    const get = (path: string, headers: Record<string, string> = {}) => fetch(`${system.url()}${path}`, { headers, redirect: 'manual' });

    it('is a 404 where no ADMIN_TOKEN is configured', async () => {
      const unconfigured = await system.addApi({ ADMIN_TOKEN: '' });
      const url = (unconfigured as ManagedProcess & { url: string }).url;
      const res = await httpClient(url).get('/admin/queues', { authorization: `Bearer ${ADMIN_TOKEN}` });
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');
      await unconfigured.stop();
    });

    it('answers 401 JSON without the token or with a wrong one', async () => {
      const attempts: Array<Record<string, string>> = [{}, { authorization: 'Bearer wrong-token-wrong-token-00' }, { authorization: 'Basic abc' }, { cookie: 'bgs_admin=forged' }];
      for (const headers of attempts) {
        const res = await get('/admin/queues', headers);
        expect([res.status, res.headers.get('content-type')]).toEqual([401, expect.stringMatching(/^application\/json/)]);
        expect((await res.json()).error.code).toBe('unauthorized');
      }
      const wrongQuery = await get('/admin/queues?token=wrong');
      expect(wrongQuery.status).toBe(401);
      expect(wrongQuery.headers.get('set-cookie')).toBeNull();
      expect((await get('/admin/queues/api/queues')).status).toBe(401);
    });

    it('opens with the bearer token, showing the generation queue', async () => {
      const page = await get('/admin/queues', { authorization: `Bearer ${ADMIN_TOKEN}` });
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      const queues = await get('/admin/queues/api/queues', { authorization: `Bearer ${ADMIN_TOKEN}` });
      expect(queues.status).toBe(200);
      expect((await queues.json()).queues.map((q: { name: string }) => q.name)).toEqual(['generation']);
    });

    it('a browser opens it once with ?token=, then holds an HttpOnly cookie and no token in the URL', async () => {
      const first = await get(`/admin/queues?token=${ADMIN_TOKEN}`);
      expect(first.status).toBe(303);
      expect(first.headers.get('location')).toBe('/admin/queues');
      const setCookie = first.headers.get('set-cookie') ?? '';
      expect(setCookie).toMatch(/^bgs_admin=[\w-]+; Path=\/admin\/queues; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
      expect(setCookie).not.toContain(ADMIN_TOKEN);
      const cookie = setCookie.split(';')[0];
      const page = await get('/admin/queues', { cookie });
      expect(page.status).toBe(200);
      // The page's scripts load with the same cookie (relative to <base href="/admin/queues/">).
      const script = /src="(static\/js\/main[^"]+)"/.exec(await page.text())?.[1];
      expect(script).toBeDefined();
      expect((await get(`/admin/queues/${script}`, { cookie })).status).toBe(200);
      expect((await get('/admin/queues/api/queues', { cookie })).status).toBe(200);
    });
  });

  describe('the API document at /api/openapi.json', () => {
    it('is OpenAPI 3.1, public, and describes the error body with every error code', async () => {
      const res = await httpClient(system.url()).get('/api/openapi.json');
      expect(res.status).toBe(200);
      const doc = res.body;
      expect(doc.openapi).toBe('3.1.0');
      expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
      expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
      const error = doc.components.schemas.Error;
      expect(error.properties.error.required).toEqual(['code', 'message']);
      expect([...error.properties.error.properties.code.enum].sort()).toEqual(Object.keys(ERROR_STATUS).sort());

      // A real error answer has the documented shape.
      const bad = await (await system.client('doc-dave')).post('/api/threads', { nonsense: true });
      expect(bad.status).toBe(400);
      expect(Object.keys(bad.body)).toEqual(['error']);
      expect(error.properties.error.properties.code.enum).toContain(bad.body.error.code);
      expect(Object.keys(bad.body.error).every((k) => k in error.properties.error.properties)).toBe(true);
      expect(doc.paths['/api/threads'].post.responses['400']).toEqual({ $ref: '#/components/responses/Error400' });
    });

    it('holds every route the API router answers, and nothing it does not', async () => {
      const doc = (await httpClient(system.url()).get('/api/openapi.json')).body;
      // The same router the process runs, built here with inert dependencies and this system's settings.
      const app = inertApp({ devTokens: true, queueBoard: true, adminToken: ADMIN_TOKEN });
      const routes = new Set(listAppRoutes(app).map((r) => `${r.method.toLowerCase()} ${toOpenApiPath(r.path)}`));
      const documented = new Set(Object.entries(doc.paths as Record<string, object>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`)));
      expect(routes.size).toBeGreaterThan(15);
      for (const route of routes) expect([route, documented.has(route)]).toEqual([route, true]);
      // The board is a mounted application the router cannot list; everything else must exist.
      for (const op of documented) if (op !== 'get /admin/queues') expect([op, routes.has(op)]).toEqual([op, true]);
      expect(documented.has('get /admin/queues')).toBe(true);
    });
  });
});
