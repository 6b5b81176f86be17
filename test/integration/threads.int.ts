import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Thread } from '@bgs/shared';
import { TEST_AUTH_SECRET } from '../support/env';
import { eventually, httpClient, type HttpAnswer, type HttpClient } from '../support/http';
import type { ManagedProcess } from '../support/processes';
import { connectSocket, nextEvent, openThread, type TestSocket } from '../support/sockets';
import { TestSystem } from '../support/system';

type Api = HttpClient & { token: string };

/** The thread endpoints as a chat app uses them, against the real API, worker, Postgres and Redis. */
describe('threads', () => {
  let system: TestSystem;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    system = await TestSystem.start({ env: { FRAME_MS: '20' } });
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.disconnect();
  });
  afterAll(async () => {
    await system.stop();
  });

  /** A user of their own per test, so lists and orders are not shared. */
  const user = (name: string) => system.client(`${name}-${randomUUID().slice(0, 8)}`);

  async function createThread(api: Api, title?: string): Promise<Thread> {
    const res = await api.post<Thread>('/api/threads', title === undefined ? {} : { title });
    expect(res.status).toBe(201);
    return res.body;
  }

  /** Every page of the list, following nextCursor to the end. */
  async function listAll(api: Api, limit: number): Promise<{ pages: Thread[][]; items: Thread[] }> {
    const pages: Thread[][] = [];
    let cursor: string | null = null;
    do {
      const res: HttpAnswer = await api.get(`/api/threads?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(limit);
      pages.push(res.body.items);
      cursor = res.body.nextCursor;
      expect(pages.length).toBeLessThan(100);
    } while (cursor !== null);
    return { pages, items: pages.flat() };
  }

  function expectError(res: HttpAnswer, status: number, code: string) {
    expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status, code });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(typeof res.body.error.message).toBe('string');
    expect(JSON.stringify(res.body)).not.toMatch(/node_modules|\.ts:\d+|\.js:\d+|stack/);
  }

  describe('create', () => {
    it('answers 201 with the new thread, titled "New chat" when no title is given', async () => {
      const api = await user('create');
      const before = Date.now();
      for (const res of [await api.post('/api/threads', {}), await api.post('/api/threads')]) {
        expect(res.status).toBe(201);
        expect(res.body).toEqual({
          id: expect.stringMatching(/^[0-9a-f-]{36}$/),
          title: 'New chat',
          muted: false,
          createdAt: expect.any(String),
          updatedAt: expect.any(String),
          activeStreamId: null,
        });
        expect(Date.parse(res.body.createdAt)).toBeGreaterThanOrEqual(before - 1_000);
        expect(res.body.updatedAt).toBe(res.body.createdAt);
      }
    });

    it('keeps a given title, trimmed', async () => {
      const api = await user('create');
      expect((await createThread(api, '  Trip to Lisbon  ')).title).toBe('Trip to Lisbon');
      expect((await createThread(api, 'é'.repeat(200))).title).toBe('é'.repeat(200));
    });

    it.each([
      ['an empty title', { title: '' }],
      ['a blank title', { title: '   ' }],
      ['a title over 200 characters', { title: 'x'.repeat(201) }],
      ['a title that is not a string', { title: 42 }],
      ['a null title', { title: null }],
      ['an unknown field', { title: 'ok', pinned: true }],
      ['an array body', [{ title: 'ok' }]],
    ])('refuses %s with 400 invalid_request and the zod issues', async (_name, body) => {
      const api = await user('create');
      const res = await api.post('/api/threads', body);
      expectError(res, 400, 'invalid_request');
      expect(Array.isArray(res.body.error.details)).toBe(true);
      expect((await api.get('/api/threads')).body.items).toEqual([]);
    });
  });

  describe('list', () => {
    it('pages through 25 threads newest first: no duplicate, no gap, nextCursor null at the end', async () => {
      const api = await user('list');
      // Created at once, so many share a timestamp: the id must break those ties.
      const created = await Promise.all(Array.from({ length: 25 }, (_, i) => createThread(api, `Thread ${i}`)));
      // Postgres orders uuids as bytes, which is the order of their lowercase hex text.
      const desc = (a: string, b: string) => (a < b ? 1 : a > b ? -1 : 0);
      const newestFirst = [...created].sort((a, b) => desc(a.updatedAt, b.updatedAt) || desc(a.id, b.id));

      for (const limit of [1, 7, 10, 25, 100]) {
        const { pages, items } = await listAll(api, limit);
        expect(items.map((t) => t.id)).toEqual(newestFirst.map((t) => t.id));
        expect(pages).toHaveLength(Math.max(1, Math.ceil(25 / limit)));
      }
      const first = await api.get('/api/threads');
      expect(first.body.items).toHaveLength(20);
      expect(first.body.nextCursor).toEqual(expect.any(String));
    });

    it('an empty list is one empty page', async () => {
      const api = await user('list');
      expect((await api.get('/api/threads')).body).toEqual({ items: [], nextCursor: null });
    });

    it('a thread with a new message moves to the top; renaming or muting does not move it', async () => {
      const api = await user('order');
      for (const title of ['a', 'b', 'c']) await createThread(api, title);
      const order = async () => (await api.get('/api/threads')).body.items.map((t: Thread) => t.id) as string[];
      const initial = await order();
      const [, middle, last] = initial;

      expect((await api.patch(`/api/threads/${middle}`, { title: 'renamed', muted: true })).status).toBe(200);
      expect(await order()).toEqual(initial);

      const sent = await api.post(`/api/threads/${last}/messages`, { content: 'hello [sim tokens=2 rate=1000]' });
      expect(sent.status).toBe(202);
      // Once the answer is in, the thread's activity is later than any creation above.
      await eventually(async () => ((await api.get(`/api/threads/${last}`)).body.activeStreamId === null ? true : undefined), 'the answer to end');
      expect(await order()).toEqual([last, initial[0], middle]);
    });

    it('shows only the caller’s threads', async () => {
      const [alice, bob] = [await user('alice'), await user('bob')];
      const mine = await createThread(alice, 'mine');
      await createThread(bob, 'theirs');
      expect((await alice.get('/api/threads')).body.items.map((t: Thread) => t.id)).toEqual([mine.id]);
    });

    it.each([
      ['limit=0'],
      ['limit=101'],
      ['limit=abc'],
      ['limit=1.5'],
      ['limit=5&limit=6'],
      ['cursor='],
      ['cursor=not-a-cursor'],
      [`cursor=${Buffer.from('{"at":"2026-01-01T00:00:00.000Z","id":"x"}').toString('base64url')}`],
      ['cursor=abc%2Bdef'],
      ['sort=title'],
    ])('refuses ?%s with 400 invalid_request', async (query) => {
      const api = await user('list');
      expectError(await api.get(`/api/threads?${query}`), 400, 'invalid_request');
    });
  });

  describe('get and patch', () => {
    it('gets a thread by id', async () => {
      const api = await user('get');
      const thread = await createThread(api, 'Look me up');
      const res = await api.get(`/api/threads/${thread.id}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual(thread);
    });

    it('renames and mutes, each alone or both at once, and the change persists', async () => {
      const api = await user('patch');
      const thread = await createThread(api, 'Before');

      const renamed = await api.patch(`/api/threads/${thread.id}`, { title: '  After  ' });
      expect(renamed.status).toBe(200);
      expect(renamed.body).toEqual({ ...thread, title: 'After' });

      const muted = await api.patch(`/api/threads/${thread.id}`, { muted: true });
      expect(muted.body).toEqual({ ...thread, title: 'After', muted: true });

      const both = await api.patch(`/api/threads/${thread.id}`, { title: 'Final', muted: false });
      expect(both.body).toEqual({ ...thread, title: 'Final', muted: false });
      expect((await api.get(`/api/threads/${thread.id}`)).body).toEqual(both.body);
    });

    it.each([
      ['an empty body', {}],
      ['no body at all', undefined],
      ['an unknown field', { title: 'ok', archived: true }],
      ['only unknown fields', { archived: true }],
      ['muted as a string', { muted: 'true' }],
      ['muted as null', { muted: null }],
      ['a blank title', { title: ' ' }],
      ['a title over 200 characters', { title: 'x'.repeat(201) }],
    ])('refuses %s with 400 and changes nothing', async (_name, body) => {
      const api = await user('patch');
      const thread = await createThread(api, 'Unchanged');
      expectError(await api.patch(`/api/threads/${thread.id}`, body), 400, 'invalid_request');
      expect((await api.get(`/api/threads/${thread.id}`)).body).toEqual(thread);
    });
  });

  describe('delete', () => {
    it('answers 204, then the thread and its messages are gone', async () => {
      const api = await user('delete');
      const thread = await createThread(api, 'Short-lived');
      const deleted = await api.delete(`/api/threads/${thread.id}`);
      expect(deleted.status).toBe(204);
      expect(deleted.body).toBeNull();
      expectError(await api.get(`/api/threads/${thread.id}`), 404, 'not_found');
      expectError(await api.patch(`/api/threads/${thread.id}`, { title: 'x' }), 404, 'not_found');
      expectError(await api.get(`/api/threads/${thread.id}/messages`), 404, 'not_found');
      expectError(await api.delete(`/api/threads/${thread.id}`), 404, 'not_found');
      expect((await api.get('/api/threads')).body.items).toEqual([]);
    });

    it('deleting a thread with a running stream cancels it: the stream ends and its frames stop', async () => {
      const api = await user('delete');
      const [doomed, other] = [await createThread(api, 'Doomed'), await createThread(api, 'Other')];
      const socket = await connectSocket(system.url(), api.token);
      sockets.push(socket);
      expect((await openThread(socket, doomed.id)).ok).toBe(true);
      expect((await openThread(socket, other.id)).ok).toBe(true);

      const sent = await api.post(`/api/threads/${doomed.id}/messages`, { content: 'Long answer [sim tokens=2000 rate=100]' });
      expect(sent.status).toBe(202);
      const streamId = sent.body.stream.id as string;
      expect((await api.get(`/api/threads/${doomed.id}`)).body.activeStreamId).toBe(streamId);
      await nextEvent(socket, 'stream.delta', (e) => e.streamId === streamId && e.seq >= 2);

      const cancelled = nextEvent(socket, 'stream.cancelled', (e) => e.streamId === streamId);
      expect((await api.delete(`/api/threads/${doomed.id}`)).status).toBe(204);
      expect(await cancelled).toEqual({ streamId, threadId: doomed.id, messageId: sent.body.assistantMessage.id });

      // Frames after the cancel would show a generation still running. A whole other
      // generation, started and finished afterwards, bounds the wait.
      let framesAfterCancel = 0;
      socket.on('stream.delta', (e) => void (e.streamId === streamId && framesAfterCancel++));
      const next = await api.post(`/api/threads/${other.id}/messages`, { content: 'Quick one [sim tokens=20 rate=200]' });
      expect(next.status).toBe(202);
      await nextEvent(socket, 'stream.completed', (e) => e.streamId === next.body.stream.id);
      await eventually(async () => ((await api.get(`/api/threads/${other.id}`)).body.activeStreamId === null ? true : undefined), 'other thread idle');
      expect(framesAfterCancel).toBe(0);

      expectError(await api.get(`/api/streams/${streamId}`), 404, 'not_found');
      expect((await api.get('/api/threads')).body.items.map((t: Thread) => t.id)).toEqual([other.id]);
      const reopened = await openThread(socket, doomed.id);
      expect(reopened).toEqual({ ok: false, error: expect.objectContaining({ code: 'not_found' }) });
    });
  });

  describe('another user’s thread answers exactly like a missing one', () => {
    it('on every thread route, and on thread.open', async () => {
      const [owner, stranger] = [await user('owner'), await user('stranger')];
      const thread = await createThread(owner, 'Private');
      const missing = randomUUID();

      const routes: Array<[string, (id: string) => Promise<HttpAnswer>]> = [
        ['GET thread', (id) => stranger.get(`/api/threads/${id}`)],
        ['PATCH thread', (id) => stranger.patch(`/api/threads/${id}`, { title: 'Hijacked', muted: true })],
        ['DELETE thread', (id) => stranger.delete(`/api/threads/${id}`)],
        ['GET messages', (id) => stranger.get(`/api/threads/${id}/messages`)],
        ['POST message', (id) => stranger.post(`/api/threads/${id}/messages`, { content: 'hello [sim tokens=1]' })],
      ];
      for (const [name, call] of routes) {
        const [theirs, none] = [await call(thread.id), await call(missing)];
        expect({ name, status: theirs.status, body: theirs.body }).toEqual({ name, status: none.status, body: none.body });
        expect({ name, status: theirs.status, code: theirs.body.error.code }).toEqual({ name, status: 404, code: 'not_found' });
      }

      const socket = await connectSocket(system.url(), stranger.token);
      sockets.push(socket);
      const [theirsAck, noneAck] = [await openThread(socket, thread.id), await openThread(socket, missing)];
      expect(theirsAck).toEqual(noneAck);
      expect(theirsAck).toEqual({ ok: false, error: expect.objectContaining({ code: 'not_found' }) });

      // Nothing the stranger tried changed the owner's thread.
      expect((await owner.get(`/api/threads/${thread.id}`)).body).toEqual(thread);
      expect((await owner.get(`/api/threads/${thread.id}/messages`)).body.items).toEqual([]);
    });
  });

  describe('malformed requests', () => {
    // Thread ids are UUIDs or AI SDK chat ids ([A-Za-z0-9_-]{1,64}): anything else is malformed.
    it.each([
      ['GET', 'not.an.id'],
      ['GET', 'x'.repeat(65)],
      ['PATCH', 'not.an.id'],
      ['DELETE', 'not.an.id'],
      ['GET', `${randomUUID()}~`],
      ['GET', '%E0%A4%A'],
      ['GET', 'caf%C3%A9'],
    ])('%s /api/threads/%s is 400 invalid_request', async (method, id) => {
      const api = await user('bad-id');
      const res = await api.request(method, `/api/threads/${id}`, method === 'PATCH' ? { title: 'x' } : undefined);
      expectError(res, 400, 'invalid_request');
    });

    it('broken JSON is 400', async () => {
      const api = await user('bad-body');
      expectError(await api.post('/api/threads', '{"title": "unterminated'), 400, 'invalid_request');
      expectError(await api.post('/api/threads', 'null'), 400, 'invalid_request');
    });

    it('a body that is not JSON is 400, not silently ignored', async () => {
      const api = await user('bad-body');
      expectError(await api.post('/api/threads', 'title=Hello', { 'content-type': 'application/x-www-form-urlencoded' }), 400, 'invalid_request');
      expectError(await api.post('/api/threads', '{"title":"Hello"}', { 'content-type': 'text/plain' }), 400, 'invalid_request');
      expect((await api.get('/api/threads')).body.items).toEqual([]);
    });

    it('a huge body is 413 payload_too_large, and the API keeps serving', async () => {
      const api = await user('big-body');
      expectError(await api.post('/api/threads', { title: 'x'.repeat(200 * 1024) }), 413, 'payload_too_large');
      expect((await api.post('/api/threads', { title: 'small' })).status).toBe(201);
    });

    it('an unknown route is a JSON 404', async () => {
      const api = await user('no-route');
      expectError(await api.get('/api/nothing-here'), 404, 'not_found');
      expectError(await api.request('PUT', `/api/threads/${randomUUID()}`, { title: 'x' }), 404, 'not_found');
    });
  });

  describe('authentication', () => {
    const anonymous = () => httpClient(system.url());

    it.each<[string, () => Record<string, string>]>([
      ['no Authorization header', () => ({})],
      ['a non-Bearer scheme', () => ({ authorization: 'Basic YWxpY2U6cHc=' })],
      ['a garbage token', () => ({ authorization: 'Bearer not.a.jwt' })],
      ['a token signed with another secret', () => ({ authorization: `Bearer ${jwt.sign({ sub: 'alice' }, 'another-secret-0123456789', { algorithm: 'HS256' })}` })],
      ['an expired token', () => ({ authorization: `Bearer ${jwt.sign({ sub: 'alice', exp: Math.floor(Date.now() / 1000) - 60 }, TEST_AUTH_SECRET, { algorithm: 'HS256' })}` })],
      ['a token without sub', () => ({ authorization: `Bearer ${jwt.sign({ name: 'alice' }, TEST_AUTH_SECRET, { algorithm: 'HS256' })}` })],
    ])('%s is 401 unauthorized on every thread route', async (_name, headers) => {
      const id = randomUUID();
      const calls = [
        anonymous().get('/api/threads', headers()),
        anonymous().post('/api/threads', { title: 'x' }, headers()),
        anonymous().get(`/api/threads/${id}`, headers()),
        anonymous().patch(`/api/threads/${id}`, { title: 'x' }, headers()),
        anonymous().delete(`/api/threads/${id}`, headers()),
      ];
      for (const res of await Promise.all(calls)) expectError(res, 401, 'unauthorized');
    });

    it('a valid token signed with the shared secret works without a dev token round trip', async () => {
      const token = jwt.sign({ sub: `external-${randomUUID()}` }, TEST_AUTH_SECRET, { algorithm: 'HS256', expiresIn: 60 });
      const api = httpClient(system.url(), token);
      expect((await api.post('/api/threads', { title: 'first sight creates the user' })).status).toBe(201);
      expect((await api.get('/api/threads')).body.items).toHaveLength(1);
    });
  });

  describe('dev tokens', () => {
    it('issue a working token for a valid user id', async () => {
      const res = await httpClient(system.url()).post('/api/dev/token', { userId: 'dev.user@example-1' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ token: expect.any(String) });
      expect((await httpClient(system.url(), res.body.token).get('/api/threads')).status).toBe(200);
    });

    it.each([
      ['no body', undefined],
      ['no userId', {}],
      ['an empty userId', { userId: '' }],
      ['a userId with spaces', { userId: 'alice smith' }],
      ['a userId that is not a string', { userId: 42 }],
      ['a userId over 200 characters', { userId: 'a'.repeat(201) }],
      ['an unknown field', { userId: 'alice', admin: true }],
    ])('refuse %s with 400 invalid_request', async (_name, body) => {
      expectError(await httpClient(system.url()).post('/api/dev/token', body), 400, 'invalid_request');
    });
  });

  describe('health and capabilities', () => {
    it('/healthz and /readyz are green, without a token', async () => {
      const anonymous = httpClient(system.url());
      expect(await anonymous.get('/healthz')).toEqual(expect.objectContaining({ status: 200, body: { status: 'ok' } }));
      expect(await anonymous.get('/readyz')).toEqual(
        expect.objectContaining({ status: 200, body: { status: 'ready', checks: { postgres: 'ok', redis: 'ok' } } }),
      );
    });

    it('keeps an idle connection open for HTTP_KEEP_ALIVE_MS (65 s by default), past a proxy’s usual 60 s', async () => {
      const res = await httpClient(system.url()).get('/healthz');
      expect(res.headers.get('keep-alive')).toBe('timeout=65');
    });

    it('/api/capabilities says what this deployment offers', async () => {
      const res = await httpClient(system.url()).get('/api/capabilities');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ backgroundStreaming: true, realtime: 'socket.io', providers: ['simulated'], defaultModel: 'simulated-1' });
    });
  });

  describe('start-up configuration', () => {
    let started: ManagedProcess | null = null;
    afterEach(async () => {
      await started?.stop();
      started = null;
    });

    it('an API with dev tokens off issues none', async () => {
      started = await system.addApi({ AUTH_DEV_TOKENS: '0' });
      const url = (started as ManagedProcess & { url: string }).url;
      const res = await httpClient(url).post('/api/dev/token', { userId: 'alice' });
      expect([401, 404]).toContain(res.status);
      expect(res.body.token).toBeUndefined();
      // A real token still works there.
      const api = await system.client(`devoff-${randomUUID().slice(0, 8)}`);
      expect((await httpClient(url, api.token).get('/api/threads')).status).toBe(200);
    });

    it.each<[string, Record<string, string>, RegExp]>([
      ['dev tokens in production', { NODE_ENV: 'production', AUTH_DEV_TOKENS: '1' }, /AUTH_DEV_TOKENS must be off when NODE_ENV=production/],
      ['a frame interval that is not a number', { FRAME_MS: 'abc' }, /FRAME_MS /],
      ['a MySQL database URL', { DATABASE_URL: 'mysql://root@127.0.0.1/bgs' }, /DATABASE_URL must start with postgres:\/\//],
    ])('a process started with %s stops at once, naming the variable', async (_name, env, message) => {
      await expect(system.addApi(env)).rejects.toThrow(message);
      await expect(system.addWorker(env)).rejects.toThrow(message);
    });
  });
});
