import { ChatApiError, HttpApi } from './http-api';

type Call = { url: string; authorization: string | null };

/** A fetch answering from a script: each call takes the next answer. */
function scriptedFetch(answers: Array<() => Response>) {
  const calls: Call[] = [];
  const fetchImpl = (async (url: string, init?: RequestInit) => {
    calls.push({ url, authorization: (init?.headers as Record<string, string>)?.authorization ?? null });
    const next = answers.shift();
    if (!next) throw new Error('no answer scripted');
    return next();
  }) as typeof fetch;
  return { fetchImpl, calls };
}

const json = (status: number, body: unknown) => () => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const unauthorized = json(401, { error: { code: 'unauthorized', message: 'token expired' } });

describe('HttpApi tokens', () => {
  it('asks a token function for every request', async () => {
    const server = scriptedFetch([json(200, { items: [], nextCursor: null }), json(200, { items: [], nextCursor: null })]);
    let n = 0;
    const api = new HttpApi({ baseUrl: 'http://api.test', token: () => `t${++n}`, fetch: server.fetchImpl });
    await api.listThreads();
    await api.listThreads();
    expect(server.calls.map((c) => c.authorization)).toEqual(['Bearer t1', 'Bearer t2']);
  });

  it('a 401 asks for a fresh token once and tries again', async () => {
    const server = scriptedFetch([unauthorized, json(200, { items: [], nextCursor: null })]);
    const asked: boolean[] = [];
    const api = new HttpApi({ baseUrl: 'http://api.test', token: async ({ refresh }) => (asked.push(refresh), refresh ? 'fresh' : 'stale'), fetch: server.fetchImpl });
    await expect(api.listThreads()).resolves.toEqual({ items: [], nextCursor: null });
    expect(asked).toEqual([false, true]);
    expect(server.calls.map((c) => c.authorization)).toEqual(['Bearer stale', 'Bearer fresh']);
  });

  it('gives up after the fresh token is refused too; a fixed string is not retried at all', async () => {
    const twice = scriptedFetch([unauthorized, unauthorized]);
    const api = new HttpApi({ baseUrl: 'http://api.test', token: () => 'bad', fetch: twice.fetchImpl });
    await expect(api.listThreads()).rejects.toMatchObject({ code: 'unauthorized', status: 401 });
    expect(twice.calls).toHaveLength(2);
    const once = scriptedFetch([unauthorized]);
    const fixed = new HttpApi({ baseUrl: 'http://api.test', token: 'bad', fetch: once.fetchImpl });
    await expect(fixed.listThreads()).rejects.toMatchObject({ code: 'unauthorized' });
    expect(once.calls).toHaveLength(1);
  });

  it('a token function that throws is a failure worth retrying (status 0), not a 401', async () => {
    const api = new HttpApi({ baseUrl: 'http://api.test', token: () => Promise.reject(new Error('sign-in service down')), fetch: scriptedFetch([]).fetchImpl });
    await expect(api.listThreads()).rejects.toMatchObject({ code: 'token_unavailable', status: 0 });
  });
});

describe('HttpApi capabilities', () => {
  it('reads them without a token', async () => {
    const server = scriptedFetch([json(200, { backgroundStreaming: true, realtime: 'socket.io', providers: ['simulated'], defaultModel: 'm' })]);
    const token = jest.fn(() => 't');
    const api = new HttpApi({ baseUrl: 'http://api.test', token, fetch: server.fetchImpl });
    await expect(api.capabilities()).resolves.toMatchObject({ backgroundStreaming: true });
    expect(server.calls).toEqual([{ url: 'http://api.test/api/capabilities', authorization: null }]);
    expect(token).not.toHaveBeenCalled();
  });

  it.each([
    ['a 404 page', () => new Response('<h1>Not found</h1>', { status: 404, headers: { 'content-type': 'text/html' } }), 404],
    ['HTML with 200', () => new Response('<!doctype html>', { status: 200, headers: { 'content-type': 'text/html' } }), 200],
    ['JSON of something else', json(200, { ok: true }), 200],
    ['no answer', () => { throw new TypeError('fetch failed'); }, 0],
  ])('anything but this API (%s) is `unavailable`', async (_what, answer, status) => {
    const api = new HttpApi({ baseUrl: 'http://static.test', token: 't', fetch: scriptedFetch([answer]).fetchImpl });
    const err = await api.capabilities().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChatApiError);
    expect(err).toMatchObject({ code: 'unavailable', status });
    expect(api.pending).toBe(0);
  });
});
