import { ChatApiError, createChatClient, type ChatClient, type Notification } from '@bgs/client';
import { simulatedAnswer } from '@bgs/server';
import { answerOf, expectGrowing, recordAnswers, until } from '../support/client-views';
import { recordingFetch, recordStatuses, untilStatus } from '../support/client-recorder';
import { freePort } from '../support/redis-server';
import { TestSystem } from '../support/system';
import { StaticHost, UpgradeRefusingProxy } from '../support/test-proxies';

/**
 * libs/client where the network is not what it expects: a proxy that refuses WebSocket
 * upgrades (still live, by long-polling), and a page served from a static host with no
 * API behind it (the client stands aside instead of throwing).
 */
describe('fault: the browser client behind a proxy that refuses WebSockets', () => {
  let system: TestSystem;
  let proxy: UpgradeRefusingProxy;
  const clients: ChatClient[] = [];

  beforeAll(async () => {
    system = await TestSystem.start({ env: { FRAME_MS: '20' } });
    proxy = await UpgradeRefusingProxy.start(system.url());
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(async () => {
    await proxy?.close();
    await system?.stop();
  });

  it('connects by long-polling: frames and notifications arrive live, nothing is polled over REST', async () => {
    const rest = recordingFetch();
    const token = await system.token('proxied-user');
    const client = await createChatClient({ baseUrl: proxy.url, token, fetch: rest.fetch });
    clients.push(client);
    const statuses = recordStatuses(client);
    await untilStatus(client, 'connected');
    expect(statuses).toEqual(['connecting', 'connected']);
    // WebSocket was tried and refused by the proxy; the connection is socket.io's long-polling through it.
    expect(proxy.refusedUpgrades.length).toBeGreaterThanOrEqual(1);
    expect(proxy.pollingRequests.length).toBeGreaterThan(0);

    const [viewed, elsewhere] = [await client.threads.create({ title: 'Proxied' }), await client.threads.create({ title: 'Elsewhere' })];
    const view = client.openThread(viewed.id);
    await view.ready;
    expect(view.get().status).toBe('live');
    const seen = recordAnswers(view);
    const content = 'Through the proxy [sim tokens=80 rate=80]';
    const sent = await client.send(viewed.id, content);
    const done = await until(view, (s) => answerOf(s)?.status === 'complete', 'the answer, live');
    expect(answerOf(done)?.content).toBe(simulatedAnswer(content, 80).join(''));
    expect(seen.length).toBeGreaterThan(3); // frame by frame, not one jump at the end
    expectGrowing(seen);
    expect(rest.polls(sent.stream.id)).toEqual([]);

    // A thread nobody views: its end is pushed as a notification, over the same polling connection.
    const notified = new Promise<Notification>((resolve) => client.notifications.onNotification((n) => n.threadId === elsewhere.id && resolve(n)));
    await client.send(elsewhere.id, 'Ping me [sim tokens=5 rate=500]');
    expect(await notified).toEqual(expect.objectContaining({ type: 'ai.message.received', threadId: elsewhere.id }));
    expect(client.stats()).toEqual(expect.objectContaining({ pollRounds: 0, joinedThreads: 1, timers: 0 }));
    expect(client.connection()).toBe('connected');
    view.close();
  });

  it("with transports: 'websocket-only' the client never polls: behind this proxy it keeps retrying the WebSocket", async () => {
    const own = await UpgradeRefusingProxy.start(system.url());
    try {
      const client = await createChatClient({ baseUrl: own.url, token: await system.token('ws-only-user'), transports: 'websocket-only', reconnectDelayMs: 100 });
      clients.push(client);
      const statuses = recordStatuses(client);
      await own.until(() => own.refusedUpgrades.length >= 3, 'three refused WebSocket attempts');
      expect(own.pollingRequests).toEqual([]);
      expect(own.forwarded).toEqual(['GET /api/capabilities']);
      expect(statuses).toEqual(['connecting', 'reconnecting']);
      client.close();
    } finally {
      await own.close();
    }
  });
});

describe('fault: the browser client on a static host with no API', () => {
  const hosts: StaticHost[] = [];
  afterAll(async () => {
    await Promise.all(hosts.map((h) => h.close()));
  });

  async function unavailableAt(baseUrl: string) {
    const rest = recordingFetch();
    const errors: Array<{ err: unknown; context: Record<string, unknown> }> = [];
    const token = jest.fn(() => 'a-token');
    const client = await createChatClient({ baseUrl, token, fetch: rest.fetch, onError: (err, context) => errors.push({ err, context }) });
    return { client, rest, errors, token };
  }

  /** Nothing runs and nothing can: no socket, no timer, no request in flight; every call refuses with `unavailable`. */
  async function expectStandingAside(client: ChatClient) {
    expect(client.mode).toBe('unavailable');
    expect(client.capabilities).toBeNull();
    expect(client.connection()).toBe('none');
    expect(client.connectionProblem()?.code).toBe('unavailable');
    expect(client.stats()).toEqual(expect.objectContaining({ socketListeners: 0, timers: 0, pendingRequests: 0, liveResponses: 0, pollRounds: 0 }));
    const unavailable = expect.objectContaining({ name: 'ChatApiError', code: 'unavailable' });
    await expect(client.send('thread-1', 'Hello')).rejects.toEqual(unavailable);
    await expect(client.threads.list()).rejects.toEqual(unavailable);
    await expect(client.threads.create({ title: 'x' })).rejects.toEqual(unavailable);
    await expect(client.cancel('stream-1')).rejects.toEqual(unavailable);
    await expect(client.notifications.list()).rejects.toEqual(unavailable);
    expect(() => client.openThread('thread-1')).toThrow(ChatApiError);
    expect(client.notifications.onNotification(() => undefined)).toEqual(expect.any(Function));
    client.close();
  }

  it.each([
    ['a 404 HTML page for every path', '404' as const],
    ['a single-page-app fallback (200 HTML for every path)', 'spa' as const],
    ['JSON that is not this API', 'json' as const],
  ])('resolves with mode unavailable when the host answers %s, and asks nothing more', async (_what, kind) => {
    const host = await StaticHost.start(kind);
    hosts.push(host);
    const { client, rest, errors, token } = await unavailableAt(host.url);
    await expectStandingAside(client);
    // One request, the capabilities read: no socket.io handshake, no WebSocket, no token asked for.
    expect(host.requests).toEqual(['GET /api/capabilities']);
    expect(host.upgrades).toEqual([]);
    expect(rest.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([`GET /api/capabilities ${kind === '404' ? 404 : 200}`]);
    expect(token).not.toHaveBeenCalled();
    expect(errors).toEqual([{ err: expect.objectContaining({ code: 'unavailable' }), context: { what: 'capabilities' } }]);
  });

  it('resolves with mode unavailable when nothing listens there (a network error)', async () => {
    const { client, rest, errors } = await unavailableAt(`http://127.0.0.1:${await freePort()}`);
    await expectStandingAside(client);
    expect(rest.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual(['GET /api/capabilities 0']);
    expect(errors).toHaveLength(1);
  });
});
