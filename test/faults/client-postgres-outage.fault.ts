import { createChatClient, type ChatClient, type ChatClientOptions, type Notification } from '@bgs/client';
import { simulatedAnswer } from '@bgs/server';
import { answerOf, expectGrowing, recordAnswers, until } from '../support/client-views';
import { recordingFetch, recordStatuses, recordViewStatuses, untilStatus, withoutLoading } from '../support/client-recorder';
import { PostgresFreeze } from '../support/postgres-freeze';
import { PostgresServer } from '../support/postgres-server';
import { TestSystem } from '../support/system';
import { HoldingProxy } from '../support/test-proxies';

/** `promise`, or a rejection saying `problem` after `ms`. */
function within<T>(promise: Promise<T>, ms: number, problem: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(problem)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const ENV = { FRAME_MS: '20', CHECKPOINT_MS: '300', RATE_LIMIT_SENDS: '1000', SWEEP_INTERVAL_MS: '500' };
/** Short backoffs so that an outage of a second or two is retried several times. */
const FAST: Partial<ChatClientOptions> = { retryDelayMs: { min: 200, max: 1_000 }, pollIntervalMs: 250 };

/**
 * libs/client against a real API, worker, Redis and a Postgres of this test's own,
 * stopped or frozen while the client connects and opens threads: the client recovers
 * by itself (no reload), and leaves nothing behind on the server.
 */
describe('fault: the browser client through a Postgres outage', () => {
  let pg: PostgresServer;
  let freeze: PostgresFreeze;
  let system: TestSystem;
  const clients: ChatClient[] = [];
  const closers: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    pg = await PostgresServer.start();
    freeze = new PostgresFreeze(pg);
    // Two API instances: the second one has never seen the users the first one sets up.
    system = await TestSystem.start({ apis: 2, workers: 1, env: { ...ENV, DATABASE_URL: pg.url } });
  }, 90_000);
  afterEach(async () => {
    freeze.thaw();
    if (!pg.running) await pg.restart();
    for (const c of clients.splice(0)) c.close();
    for (const close of closers.splice(0)) await close();
  });
  afterAll(async () => {
    freeze?.thaw();
    await system?.stop();
    await pg?.close();
  });

  async function client(options: ChatClientOptions): Promise<ChatClient> {
    const c = await createChatClient({ onError: () => undefined, ...options });
    clients.push(c);
    return c;
  }

  /** A thread of `userId` with an answer running (set up over REST on API 0, the worker has started it). */
  async function runningAnswer(userId: string, content: string) {
    const api = await system.client(userId, 0);
    const threadId = (await api.post('/api/threads', { title: 'Outage' })).body.id as string;
    const sent = await api.post(`/api/threads/${threadId}/messages`, { content });
    expect(sent.status).toBe(202);
    const streamId = sent.body.stream.id as string;
    await system.workers[0].waitForLog((l) => l.msg === 'generation started' && l.streamId === streamId, 15_000, 'generation started');
    return { api, threadId, streamId };
  }

  it('a connection refused while Postgres is down (first sight of the user) is retried; the viewed answer is polled meanwhile, then live', async () => {
    const content = 'Keep talking through the outage [sim tokens=260 rate=20]';
    const { api, threadId, streamId } = await runningAnswer('pg-connect-user', content);
    // The socket reaches API 1 through a proxy that can hold it back, so the test decides when it may connect.
    const proxy = await HoldingProxy.start(system.url(1));
    closers.push(() => proxy.close());

    await pg.stop('fast');
    const rest = recordingFetch();
    const c = await client({ ...FAST, baseUrl: system.url(1), socketUrl: proxy.url, token: api.token, fetch: rest.fetch, ackTimeoutMs: 5_000 });
    expect(c.mode).toBe('background');
    const statuses = recordStatuses(c);
    // API 1 has never seen this user and cannot ask Postgres: its middleware answers `unavailable`.
    await untilStatus(c, 'reconnecting');
    expect(c.connectionProblem()?.code).toBe('unavailable');
    // Refused again and again, and asked again each time (socket.io alone would have stopped at the first).
    await proxy.until(() => proxy.connections >= 3, 'three connection attempts');
    expect(c.connection()).toBe('reconnecting');

    const view = c.openThread(threadId);
    const steps = recordViewStatuses(view);
    const seen = recordAnswers(view);
    await until(view, (s) => s.status === 'retrying' && s.problem?.code === 'unavailable', 'the view saying it retries');

    // Postgres is back, but the socket is held: the history read is retried and shows the
    // running answer, which is polled (the view is not joined) and grows.
    proxy.hold();
    await pg.restart();
    const fromHistory = await until(view, (s) => s.loaded && answerOf(s)?.status === 'streaming', 'the running answer, from the history');
    await until(view, (s) => (answerOf(s)?.content.length ?? 0) > answerOf(fromHistory)!.content.length, 'the answer growing while not joined');
    expect(rest.polls(streamId).length).toBeGreaterThan(0);
    expect(c.connection()).not.toBe('connected');
    expect(view.get().status).toBe('offline');

    // The socket comes through: joined, live, and the polling stops.
    proxy.release();
    await untilStatus(c, 'connected');
    await until(view, (s) => s.status === 'live', 'the view live');
    const pollsWhenLive = rest.polls(streamId).length;
    const done = await until(view, (s) => answerOf(s)?.status === 'complete', 'the completed answer', 30_000);
    expect(answerOf(done)?.content).toBe(simulatedAnswer(content, 260).join(''));
    expect(rest.polls(streamId).length).toBeLessThanOrEqual(pollsWhenLive + 1); // at most a round already under way
    expectGrowing(seen);
    // Step by step: never given up (`offline` is what today's client stayed in for good).
    expect(statuses).toEqual(['connecting', 'reconnecting', 'connected']);
    expect(withoutLoading(steps)).toEqual(['offline', 'retrying:unavailable', 'offline', 'live']);
    expect(c.stats()).toEqual(expect.objectContaining({ joinedThreads: 1, timers: 0 }));
    view.close();
  }, 90_000);

  it('a thread.open refused while Postgres is down is retried while the socket stays up; the view goes live', async () => {
    const userId = 'pg-open-user';
    const api = await system.client(userId, 0);
    const c = await client({ ...FAST, baseUrl: system.url(0), token: api.token });
    await untilStatus(c, 'connected');
    const statuses = recordStatuses(c);
    const thread = await c.threads.create({ title: 'Open me' });
    const content = 'Answer while I open [sim tokens=200 rate=20]';
    const sent = await c.send(thread.id, content);
    await system.workers[0].waitForLog((l) => l.msg === 'generation started' && l.streamId === sent.stream.id, 15_000, 'generation started');

    await pg.stop('fast');
    const view = c.openThread(thread.id);
    const steps = recordViewStatuses(view);
    const seen = recordAnswers(view);
    await view.ready; // "cannot be joined now" is an answer: the view does not wait for the outage
    await until(view, (s) => s.status === 'retrying' && s.problem?.code === 'unavailable', 'the open refused for now');
    expect(c.stats().joinedThreads).toBe(0);

    await pg.restart();
    await until(view, (s) => s.status === 'live', 'the view joined after the outage', 20_000);
    expect(c.stats().joinedThreads).toBe(1);
    const done = await until(view, (s) => answerOf(s)?.status === 'complete', 'the completed answer', 30_000);
    expect(answerOf(done)?.content).toBe(simulatedAnswer(content, 200).join(''));
    expectGrowing(seen);
    expect(statuses).toEqual(['connected']); // the socket itself never dropped
    expect(withoutLoading(steps)).toEqual(['retrying:unavailable', 'live']);
    expect(c.stats().timers).toBe(0);
    view.close();
  }, 90_000);

  it('an open that timed out on a frozen Postgres, then left: the thread is closed on the server, so its next answer notifies', async () => {
    const userId = 'pg-freeze-user';
    const api = await system.client(userId, 0);
    const c = await client({ ...FAST, baseUrl: system.url(0), token: api.token, ackTimeoutMs: 1_500 });
    await untilStatus(c, 'connected');
    const thread = await c.threads.create({ title: 'Frozen' });
    const notified = new Promise<Notification>((resolve) => c.notifications.onNotification((n) => n.threadId === thread.id && resolve(n)));

    freeze.freeze();
    const view = c.openThread(thread.id);
    const steps = recordViewStatuses(view);
    // The server queues the open behind a query Postgres never answers: no ack within 1.5 s.
    await until(view, (s) => s.status === 'retrying' && s.problem?.code === 'timeout', 'the open timing out', 15_000);
    // The user goes elsewhere: the client must send thread.close for the open the server may still run.
    view.close();
    expect(c.stats()).toEqual(expect.objectContaining({ viewedThreads: 0, joinedThreads: 0 }));
    freeze.thaw();

    // The server runs the queued open (room + presence), then the close, in that order.
    // Had the close not been sent, the thread would count as open for as long as the socket
    // lives, and the answer below would end without a notification.
    await c.send(thread.id, 'Notify me [sim tokens=8 rate=200]');
    const n = await within(notified, 20_000, 'no notification: the thread stayed open on the server (no thread.close after the timed-out open)');
    expect(n).toEqual(expect.objectContaining({ type: 'ai.message.received', threadId: thread.id }));
    expect(steps[0]).toBe('loading');
    expect(steps).toContain('retrying:timeout');
    expect(c.connection()).toBe('connected');
  }, 90_000);
});
