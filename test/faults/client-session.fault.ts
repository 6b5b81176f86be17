import { createChatClient, type ChatClient, type ChatClientOptions, type TokenRequest } from '@bgs/client';
import { simulatedAnswer } from '@bgs/server';
import { answerOf, expectGrowing, recordAnswers, until } from '../support/client-views';
import { recordingFetch, recordStatuses, recordViewStatuses, untilStatus, withoutLoading } from '../support/client-recorder';
import { eventually, httpClient } from '../support/http';
import { TestSystem } from '../support/system';

const TOKEN_LIFETIME_S = 3;

/**
 * libs/client and the user's session: tokens that expire while an answer streams (the
 * server expires the socket with `session.expired`), a token the server refuses for
 * good, and a thread deleted in another tab.
 */
describe('fault: the browser client and the session', () => {
  let system: TestSystem;
  const clients: ChatClient[] = [];

  beforeAll(async () => {
    system = await TestSystem.start({ env: { FRAME_MS: '20', RATE_LIMIT_SENDS: '1000' } });
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(async () => {
    await system?.stop();
  });

  async function client(options: ChatClientOptions): Promise<ChatClient> {
    const c = await createChatClient({ retryDelayMs: { min: 200, max: 1_000 }, ...options });
    clients.push(c);
    return c;
  }

  /** A dev token valid `seconds` (`POST /api/dev/token {userId, expiresInS}`). */
  async function shortToken(userId: string, seconds: number): Promise<string> {
    const res = await httpClient(system.url()).post('/api/dev/token', { userId, expiresInS: seconds });
    if (res.status !== 200) throw new Error(`dev token with expiresInS: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.token as string;
  }

  it('tokens that expire every few seconds during a long answer: the socket comes back with fresh ones, REST keeps working, the answer never skips', async () => {
    const userId = 'short-lived-user';
    // What a page does: keep the token it has, get a new one when the server refused it.
    let cached: string | null = null;
    const asked: boolean[] = [];
    const token = async ({ refresh }: TokenRequest) => {
      asked.push(refresh);
      if (refresh || !cached) cached = await shortToken(userId, TOKEN_LIFETIME_S);
      return cached;
    };
    const rest = recordingFetch();
    const errors: unknown[] = [];
    const c = await client({ baseUrl: system.url(), token, fetch: rest.fetch, onError: (err) => errors.push(err) });
    const statuses = recordStatuses(c);
    await untilStatus(c, 'connected');
    const thread = await c.threads.create({ title: 'Long' });
    const view = c.openThread(thread.id);
    await view.ready;
    const steps = recordViewStatuses(view);
    const seen = recordAnswers(view);
    // 13 s: several token lifetimes.
    const content = 'A long story, please [sim tokens=260 rate=20]';
    const sent = await c.send(thread.id, content);

    // While it streams, the page keeps using REST; each expired token is answered 401 once, then renewed.
    let restCalls = 0;
    let ended = false;
    const restLoop = (async () => {
      while (!ended) {
        await c.threads.list({ limit: 5 });
        await c.notifications.list({ limit: 5 });
        restCalls += 2;
        await until(view, (s) => ended || (answerOf(s)?.content.length ?? 0) > 0, 'more of the answer');
        await new Promise((r) => setTimeout(r, 700));
      }
    })();
    const done = await until(view, (s) => answerOf(s)?.status === 'complete', 'the completed answer', 30_000);
    ended = true;
    await restLoop;

    expect(answerOf(done)?.content).toBe(simulatedAnswer(content, 260).join(''));
    expect(answerOf(done)?.streamId).toBe(sent.stream.id);
    expectGrowing(seen);
    expect(seen.length).toBeGreaterThan(20); // live, frame after frame, across the reconnections
    // The server expired the socket several times (session.expired, then a disconnect); each
    // time the client came back with a fresh token, never `offline`.
    const cycles = statuses.filter((s, i) => s === 'connected' && statuses[i - 1] === 'reconnecting').length;
    expect(cycles).toBeGreaterThanOrEqual(2);
    expect(statuses).not.toContain('offline');
    expect(asked.filter((refresh) => refresh).length).toBeGreaterThanOrEqual(cycles);
    // REST: every call the page made while tokens came and went succeeded.
    expect(restCalls).toBeGreaterThan(4);
    expect(rest.requests.filter((r) => r.status !== 401 && r.status >= 400)).toEqual([]);
    expect(withoutLoading(steps).filter((s) => s.startsWith('error'))).toEqual([]);
    expect(errors.filter((e) => (e as { code?: string })?.code === 'unauthorized')).toEqual([]);
    await until(view, (s) => s.status === 'live', 'the view live again');
    expect(c.stats().joinedThreads).toBe(1);
    view.close();
  }, 60_000);

  it('a REST request refused with an expired token asks the token function for a fresh one, once, and succeeds', async () => {
    const userId = 'renewing-user';
    const { signToken } = await import('../../apps/api/src/auth/tokens');
    const { TEST_AUTH_SECRET } = await import('../support/env');
    const expired = signToken(userId, TEST_AUTH_SECRET, -10);
    const asked: boolean[] = [];
    const rest = recordingFetch();
    const c = await client({ baseUrl: system.url(), token: async ({ refresh }) => (asked.push(refresh), refresh ? shortToken(userId, 60) : expired), fetch: rest.fetch });
    await untilStatus(c, 'connected'); // the socket too: refused `unauthorized`, then a fresh token
    asked.length = 0;
    const thread = await c.threads.create({ title: 'Renewed' });
    expect(thread.title).toBe('Renewed');
    expect(rest.requests.filter((r) => r.path === '/api/threads').map((r) => `${r.method} ${r.status}`)).toEqual(['POST 401', 'POST 201']);
    expect(asked).toEqual([false, true]);
  });

  it('a token refused even when fresh: one more try with a new token, then offline, the views and onError say unauthorized', async () => {
    const asked: boolean[] = [];
    const errors: Array<{ code?: string; what: unknown }> = [];
    const c = await client({
      baseUrl: system.url(),
      token: ({ refresh }) => (asked.push(refresh), 'not-a-valid-token'),
      onError: (err, context) => errors.push({ code: (err as { code?: string })?.code, what: context.what }),
    });
    const statuses = recordStatuses(c);
    await untilStatus(c, 'offline');
    expect(statuses).toEqual(['connecting', 'reconnecting', 'offline']);
    expect(asked).toEqual([false, true]); // asked again once, with `refresh`, then given up
    expect(c.connectionProblem()?.code).toBe('unauthorized');
    expect(errors).toEqual([{ code: 'unauthorized', what: 'socket connection' }]);
    expect(c.stats().timers).toBe(0); // nothing retried later

    const view = c.openThread('any-thread');
    await view.ready;
    expect(view.get()).toEqual(expect.objectContaining({ status: 'error', error: expect.objectContaining({ code: 'unauthorized' }) }));
    await expect(c.threads.list()).rejects.toMatchObject({ code: 'unauthorized', status: 401 });
    view.close();
  });

  it('a fixed token string that expires: refused at the reconnection, and not asked again', async () => {
    const userId = 'fixed-token-user';
    const errors: Array<string | undefined> = [];
    const c = await client({ baseUrl: system.url(), token: await shortToken(userId, 2), onError: (err) => errors.push((err as { code?: string })?.code) });
    const statuses = recordStatuses(c);
    await untilStatus(c, 'connected');
    await untilStatus(c, 'offline', 10_000);
    expect(statuses).toEqual(['connecting', 'connected', 'reconnecting', 'offline']);
    expect(errors).toContain('unauthorized');
    expect(c.stats().timers).toBe(0);
  });

  it('a thread deleted in another tab: this tab shows it deleted, leaves its room, and hears of it once', async () => {
    const userId = 'two-tabs-user';
    const [tabA, tabB] = [await client({ baseUrl: system.url(), token: await system.token(userId) }), await client({ baseUrl: system.url(), token: await system.token(userId) })];
    await Promise.all([untilStatus(tabA, 'connected'), untilStatus(tabB, 'connected')]);
    const thread = await tabA.threads.create({ title: 'Doomed' });
    const deletedInA: string[] = [];
    const deletedInB: string[] = [];
    tabA.threads.onDeleted((id) => deletedInA.push(id));
    tabB.threads.onDeleted((id) => deletedInB.push(id));
    const view = tabA.openThread(thread.id);
    await view.ready;
    const steps = recordViewStatuses(view);
    await tabA.send(thread.id, 'Long enough to be running [sim tokens=400 rate=40]');
    await until(view, (s) => (answerOf(s)?.content.length ?? 0) > 0, 'the answer running');
    expect(tabA.stats().joinedThreads).toBe(1);

    await tabB.threads.delete(thread.id);
    const gone = await until(view, (s) => s.status === 'deleted', 'the view saying deleted');
    expect(gone.deleted).toBe(true);
    expect(answerOf(gone)?.status).toBe('cancelled'); // the delete stopped it; its text stays on screen
    expect(gone.streaming).toBe(false);
    await eventually(async () => (tabA.stats().joinedThreads === 0 ? true : undefined), 'tab A leaving the room');
    expect(deletedInA).toEqual([thread.id]);
    // Tab B deleted it and also hears the server's event: told once.
    await eventually(async () => (deletedInB.length > 0 ? true : undefined), 'tab B told');
    expect(deletedInB).toEqual([thread.id]);
    expect(withoutLoading(steps)).toEqual(['live', 'deleted']);
    // Nothing keeps asking about it: no poll, no retry.
    expect(tabA.stats()).toEqual(expect.objectContaining({ timers: 0, pollRounds: 0 }));
    view.close();
  });
});
