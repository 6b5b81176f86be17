import net, { type AddressInfo } from 'node:net';
import { createChatClient, type ChatClient, type ChatClientOptions, type ChatMessage, type Notification, type ThreadView } from '@bgs/client';
import { simulatedAnswer } from '@bgs/server';
import { answerOf, expectGrowing, recordAnswers, until } from '../support/client-views';
import { untilStatus } from '../support/client-recorder';
import { eventually } from '../support/http';
import { TestSystem } from '../support/system';

/**
 * A TCP proxy in front of the API for the client's socket only (REST goes direct), so
 * a test can take the socket down and bring it back while the API keeps running.
 */
async function socketProxy(target: string) {
  const { hostname, port } = new URL(target);
  const open = new Set<net.Socket>();
  let refusing = false;
  const server = net.createServer((client) => {
    if (refusing) return void client.destroy();
    const upstream = net.connect(Number(port), hostname);
    const drop = () => {
      for (const s of [client, upstream]) (s.destroy(), open.delete(s));
    };
    for (const s of [client, upstream]) (open.add(s), s.on('error', drop), s.on('close', drop));
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    /** Drops every connection and refuses new ones. */
    cut() {
      refusing = true;
      for (const s of open) s.destroy();
    },
    restore() {
      refusing = false;
    },
    close: () => new Promise<void>((resolve) => (server.close(() => resolve()), [...open].forEach((s) => s.destroy()))),
  };
}

interface Recorded {
  method: string;
  path: string;
  at: number;
}

/** docs/protocol.md (#what-a-chat-app-can-rely-on, #resume-rule, #client-library) through the client a chat app embeds, against the real API and worker. */
describe('the browser client in background mode', () => {
  let system: TestSystem;
  const clients: ChatClient[] = [];
  const closers: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    system = await TestSystem.start({ env: { FRAME_MS: '20' } });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const close of closers.splice(0)) await close();
  });
  afterAll(async () => {
    await system?.stop();
  });

  /** A client for `userId`, recording its REST requests; `hold` may delay a response. */
  async function clientFor(userId: string, options: Partial<ChatClientOptions> & { hold?: (r: Recorded, res: Response) => Promise<void> } = {}) {
    const requests: Recorded[] = [];
    const { hold, ...rest } = options;
    const recordingFetch: typeof fetch = async (input, init) => {
      const r = { method: init?.method ?? 'GET', path: new URL(String(input)).pathname, at: Date.now() };
      requests.push(r);
      const res = await fetch(input, init);
      if (hold) await hold(r, res);
      return res;
    };
    const client = await createChatClient({ baseUrl: system.url(), token: await system.token(userId), fetch: recordingFetch, ...rest });
    clients.push(client);
    await untilStatus(client, rest.socketUrl ? client.connection() : 'connected');
    return { client, requests, polls: (streamId: string) => requests.filter((r) => r.method === 'GET' && r.path === `/api/streams/${streamId}`) };
  }

  async function streamState(userId: string, streamId: string) {
    const api = await system.client(userId);
    return (await api.get(`/api/streams/${streamId}`)).body as { status: string; seq: number; content: string };
  }

  it('picks the socket transport and shows an answer as it streams, every frame once, in order', async () => {
    const { client, requests } = await clientFor('bg-alice');
    expect(client.mode).toBe('background');
    expect(client.capabilities).toEqual(expect.objectContaining({ backgroundStreaming: true, realtime: 'socket.io' }));
    const thread = await client.threads.create({ title: 'Live' });
    const view = client.openThread(thread.id);
    await view.ready;
    const seen = recordAnswers(view);
    const content = 'Tell me a story [sim tokens=80 rate=200]';
    const sent = await client.send(thread.id, content);
    const done = await until(view, (s) => answerOf(s)?.status === 'complete', 'completed answer');

    const expected = simulatedAnswer(content, 80).join('');
    expect(done.messages.map((m) => `${m.role}:${m.status}:${m.content}`)).toEqual([`user:complete:${content}`, `assistant:complete:${expected}`]);
    expect(seen.length).toBeGreaterThan(3);
    expectGrowing(seen);
    expect(seen.at(-1)).toBe(expected);
    // Live over the socket: nothing polled while it was up.
    expect(requests.filter((r) => r.path === `/api/streams/${sent.stream.id}`)).toEqual([]);
    expect(client.stats()).toEqual(expect.objectContaining({ pollRounds: 0, joinedThreads: 1, subscriptions: 1 }));
    view.close();
  });

  it('a message sent and left before its stream id arrived is attached once the id arrives', async () => {
    const { client } = await clientFor('bg-bob');
    const [a, b] = [await client.threads.create({ title: 'A' }), await client.threads.create({ title: 'B' })];
    let viewA = client.openThread(a.id);
    await viewA.ready;
    const content = 'Switch right after sending [sim tokens=100 rate=150]';
    // Send, leave to B and come back, all before the 202 (with the ids) can have arrived.
    const sending = client.send(a.id, content);
    viewA.close();
    const viewB = client.openThread(b.id);
    viewB.close();
    viewA = client.openThread(a.id);
    const seen = recordAnswers(viewA);
    const sent = await sending;
    expect(sent.stream.threadId).toBe(a.id);

    const done = await until(viewA, (s) => answerOf(s)?.status === 'complete', 'the answer');
    expect(answerOf(done)?.content).toBe(simulatedAnswer(content, 100).join(''));
    expect(done.messages.filter((m) => m.role === 'user').map((m) => `${m.status}:${m.content}`)).toEqual([`complete:${content}`]);
    expectGrowing(seen);
    viewA.close();
  });

  it('leaving mid-stream and coming back continues live from the snapshot, no gap, no duplicate', async () => {
    const { client } = await clientFor('bg-carol');
    const [a, b] = [await client.threads.create({ title: 'A' }), await client.threads.create({ title: 'B' })];
    let viewA = client.openThread(a.id);
    await viewA.ready;
    const content = 'Leave mid-way [sim tokens=300 rate=120]';
    const sent = await client.send(a.id, content);
    await until(viewA, (s) => (answerOf(s)?.content.length ?? 0) > 0, 'first frames');
    viewA.close();
    const viewB = client.openThread(b.id);
    await viewB.ready;
    await eventually(async () => ((await streamState('bg-carol', sent.stream.id)).seq >= 20 ? true : undefined), 'progress while away');
    viewB.close();

    viewA = client.openThread(a.id);
    const seen = recordAnswers(viewA);
    await viewA.ready;
    const back = viewA.get();
    expect(answerOf(back)?.status).toBe('streaming');
    const done = await until(viewA, (s) => answerOf(s)?.status === 'complete', 'the answer');
    expect(answerOf(done)?.content).toBe(simulatedAnswer(content, 300).join(''));
    expect(seen.length).toBeGreaterThan(2); // live frames after the snapshot, not one final jump
    expectGrowing(seen);
    viewA.close();
  });

  it('a stale history read that lands after newer frames is ignored', async () => {
    let staleLength = -1;
    let shownWhenApplied = -1;
    let holding = false;
    let viewA: ThreadView | null = null;
    const { client } = await clientFor('bg-dave', {
      // Delay one history answer until the view has shown frames newer than it.
      hold: async (r, res) => {
        if (!holding || r.method !== 'GET' || !r.path.endsWith('/messages') || !viewA) return;
        holding = false;
        const items = (await res.clone().json()).items as ChatMessage[];
        staleLength = items.at(-1)?.content.length ?? 0;
        const newer = await until(viewA, (s) => (answerOf(s)?.content.length ?? 0) > staleLength + 10, 'newer frames');
        shownWhenApplied = answerOf(newer)!.content.length;
      },
    });
    const thread = await client.threads.create({});
    viewA = client.openThread(thread.id);
    await viewA.ready;
    const content = 'Race the history [sim tokens=300 rate=100]';
    await client.send(thread.id, content);
    await until(viewA, (s) => (answerOf(s)?.content.length ?? 0) > 0, 'first frames');
    // Reopen: the history read now answers early and is held; the socket keeps delivering frames.
    viewA.close();
    holding = true;
    viewA = client.openThread(thread.id);
    const seen = recordAnswers(viewA);
    await viewA.ready;
    expect(staleLength).toBeGreaterThanOrEqual(0);
    expect(shownWhenApplied).toBeGreaterThan(staleLength); // the read really was stale when it landed
    client.flush();
    expect(answerOf(viewA.get())!.content.length).toBeGreaterThanOrEqual(shownWhenApplied);
    const done = await until(viewA, (s) => answerOf(s)?.status === 'complete', 'the answer');
    expect(answerOf(done)?.content).toBe(simulatedAnswer(content, 300).join(''));
    expectGrowing(seen);
    viewA.close();
  });

  it('1,000 thread switches: socket listeners, subscriptions, rooms and timers stay constant', async () => {
    const { client } = await clientFor('bg-erin');
    const threads = await Promise.all(Array.from({ length: 4 }, (_, i) => client.threads.create({ title: `T${i}` })));
    const content = 'Keep going while I switch [sim tokens=120 rate=60]';
    const sent = await client.send(threads[0].id, content);
    const baseline = client.stats();
    const samples: Array<ReturnType<ChatClient['stats']>> = [];
    for (let i = 0; i < 1_000; i++) {
      const view = client.openThread(threads[i % threads.length].id);
      const off = view.subscribe(() => undefined);
      await view.ready;
      if (i % 100 === 99) samples.push(client.stats());
      // Half the switches unsubscribe first; the other half rely on close() to release the listener.
      if (i % 2 === 0) off();
      view.close();
    }
    const counts = (s: ReturnType<ChatClient['stats']>) => ({ socketListeners: s.socketListeners, subscriptions: s.subscriptions, openViews: s.openViews, viewedThreads: s.viewedThreads, notificationListeners: s.notificationListeners, cachedThreads: s.cachedThreads });
    // During each switch exactly one view with one listener is open; nothing accumulates.
    for (const s of samples) {
      expect(counts(s)).toEqual({ ...counts(baseline), subscriptions: 1, openViews: 1, viewedThreads: 1, cachedThreads: 4 });
      expect(s.joinedThreads).toBeLessThanOrEqual(2); // the view's room, and at most the previous one still closing
      expect(s.timers).toBeLessThanOrEqual(1); // at most the next UI update
    }
    await eventually(async () => (client.stats().joinedThreads === 0 ? true : undefined), 'rooms left');
    expect(client.stats()).toEqual(expect.objectContaining({ subscriptions: 0, openViews: 0, viewedThreads: 0, joinedThreads: 0, timers: 0, pollRounds: 0, socketListeners: baseline.socketListeners }));

    // The answer survived the switching, and no room or presence leaked: a new answer in a
    // thread nobody views now notifies.
    const view = client.openThread(threads[0].id);
    const done = await until(view, (s) => answerOf(s)?.status === 'complete', 'the answer after 1,000 switches', 30_000);
    expect(answerOf(done)?.content).toBe(simulatedAnswer(content, 120).join(''));
    expect(answerOf(done)?.streamId).toBe(sent.stream.id);
    view.close();
    const notified = new Promise<Notification>((resolve) => client.notifications.onNotification((n) => n.threadId === threads[1].id && resolve(n)));
    await client.send(threads[1].id, 'Ping me [sim tokens=5 rate=500]');
    expect(await notified).toEqual(expect.objectContaining({ type: 'ai.message.received', threadId: threads[1].id }));
  }, 180_000);

  it('with the socket down, only the viewed thread is polled, at a fixed cadence, until the socket is back', async () => {
    const proxy = await socketProxy(system.url());
    closers.push(proxy.close);
    const { client, polls } = await clientFor('bg-frank', { socketUrl: proxy.url, pollIntervalMs: 200, reconnectDelayMs: 100 });
    await untilStatus(client, 'connected');
    const [viewed, background] = [await client.threads.create({ title: 'viewed' }), await client.threads.create({ title: 'background' })];
    const view = client.openThread(viewed.id);
    await view.ready;
    const seen = recordAnswers(view);
    const content = 'Survive the outage [sim tokens=300 rate=60]';
    const sent = await client.send(viewed.id, content);
    const other = await client.send(background.id, 'Nobody watches [sim tokens=300 rate=60]');
    const before = await until(view, (s) => (answerOf(s)?.content.length ?? 0) > 0, 'first frames');

    proxy.cut();
    await untilStatus(client, 'reconnecting');
    const polled = await until(view, (s) => (answerOf(s)?.content.length ?? 0) > answerOf(before)!.content.length + 20, 'progress from polling');
    expect(answerOf(polled)?.status).toBe('streaming');
    const whileDown = polls(sent.stream.id);
    expect(whileDown.length).toBeGreaterThanOrEqual(1);
    expect(polls(other.stream.id)).toEqual([]); // a background thread is never polled
    await eventually(async () => (polls(sent.stream.id).length >= 3 ? true : undefined), 'three poll rounds');
    const gaps = polls(sent.stream.id).slice(0, 3).map((r, i, all) => (i === 0 ? Infinity : r.at - all[i - 1].at));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(190); // the cadence, not a busy loop

    proxy.restore();
    await untilStatus(client, 'connected');
    const pollsAtReconnect = polls(sent.stream.id).length;
    const done = await until(view, (s) => answerOf(s)?.status === 'complete', 'the answer after reconnecting');
    expect(answerOf(done)?.content).toBe(simulatedAnswer(content, 300).join(''));
    expect(polls(sent.stream.id).length).toBeLessThanOrEqual(pollsAtReconnect + 1); // at most the round already under way
    expect(polls(other.stream.id)).toEqual([]);
    expectGrowing(seen);
    expect(client.stats().timers).toBe(0);
    view.close();
  });

  it('sent while the socket is down and left before the id arrived: the poll attaches once the id arrives', async () => {
    const proxy = await socketProxy(system.url());
    closers.push(proxy.close);
    const { client, polls } = await clientFor('bg-gina', { socketUrl: proxy.url, pollIntervalMs: 150, reconnectDelayMs: 5_000 });
    await untilStatus(client, 'connected');
    const [a, b] = [await client.threads.create({ title: 'A' }), await client.threads.create({ title: 'B' })];
    proxy.cut();
    await untilStatus(client, 'reconnecting');

    let viewA = client.openThread(a.id);
    await viewA.ready;
    const content = 'No socket at all [sim tokens=40 rate=100]';
    const sending = client.send(a.id, content);
    viewA.close();
    client.openThread(b.id).close();
    viewA = client.openThread(a.id);
    const seen = recordAnswers(viewA);
    const sent = await sending;

    const done = await until(viewA, (s) => answerOf(s)?.status === 'complete', 'the answer by polling');
    expect(answerOf(done)?.content).toBe(simulatedAnswer(content, 40).join(''));
    expect(polls(sent.stream.id).length).toBeGreaterThan(0);
    expect(client.connection()).toBe('reconnecting'); // it really was the poll
    expectGrowing(seen);
    viewA.close();
    expect(client.stats().timers).toBe(0); // nothing viewed, nothing polled
  });

  it('cancel keeps the partial text, the same on screen and on the server', async () => {
    const { client } = await clientFor('bg-hank');
    const thread = await client.threads.create({});
    const view = client.openThread(thread.id);
    await view.ready;
    const sent = await client.send(thread.id, 'Long [sim tokens=400 rate=60]');
    await until(view, (s) => (answerOf(s)?.content.length ?? 0) > 10, 'some text');
    await client.cancel(sent.stream.id);
    const cancelled = await until(view, (s) => answerOf(s)?.status === 'cancelled', 'cancelled answer');
    const stored = await eventually(async () => {
      const s = await streamState('bg-hank', sent.stream.id);
      return s.status === 'cancelled' ? s : undefined;
    }, 'cancelled on the server');
    // The last frames may land after the cancel event: the stored text is what a re-read shows.
    expect(stored.content.startsWith(answerOf(cancelled)!.content)).toBe(true);
    view.close();
    const again = client.openThread(thread.id);
    const reread = await until(again, (s) => s.loaded && answerOf(s)?.content === stored.content, 'the stored partial text');
    expect(answerOf(reread)?.status).toBe('cancelled');
    again.close();
  });
});
