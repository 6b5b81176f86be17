import { Client } from 'pg';
import type { Notification } from '@bgs/shared';
import { eventually, type HttpClient } from '../support/http';
import type { ManagedProcess } from '../support/processes';
import { RedisServer } from '../support/redis-server';
import { connectSocket, nextEvent, type TestSocket } from '../support/sockets';
import { TestSystem } from '../support/system';
import { PushFreezingProxy } from '../support/test-proxies';

// The sweep runs every 500 ms and leaves a notification 500 ms to the listener that made it.
const ENV = { FRAME_MS: '20', SWEEP_INTERVAL_MS: '500', RATE_LIMIT_SENDS: '1000' };

describe('fault: a listener killed between a notification’s commit and its push', () => {
  let redis: RedisServer;
  let proxy: PushFreezingProxy;
  let system: TestSystem;
  let pg: Client;
  let api: HttpClient & { token: string };
  let inbox: TestSocket;
  /** Every `notification.created` the user's socket received, in order. */
  const received: Notification[] = [];
  let doomed: ManagedProcess;

  beforeAll(async () => {
    redis = await RedisServer.start();
    proxy = await PushFreezingProxy.start(redis.url);
    system = await TestSystem.start({ apis: 1, workers: 0, redisUrl: redis.url, env: ENV });
    // Generations on their own worker, on Redis directly; the listener's Redis behind the proxy.
    await system.addWorker({ WORKER_ROLE: 'generator' });
    doomed = await system.addWorker({ WORKER_ROLE: 'listener', REDIS_URL: proxy.url });
    pg = new Client({ connectionString: system.db.url });
    await pg.connect();
    api = await system.client('push-lost-user');
    // The user's badge: in the user's room, no thread open, so every answer notifies.
    inbox = await connectSocket(system.url(), api.token);
    inbox.on('notification.created', (n) => received.push(n));
  });
  afterAll(async () => {
    inbox?.disconnect();
    await pg?.end();
    await system?.stop();
    await proxy?.close();
    await redis?.close();
  });

  async function send(title: string): Promise<string> {
    const threadId = (await api.post('/api/threads', { title })).body.id as string;
    const sent = await api.post(`/api/threads/${threadId}/messages`, { content: `${title} [sim tokens=10 rate=200]` });
    expect(sent.status).toBe(202);
    return sent.body.stream.id as string;
  }

  async function notificationRow(streamId: string) {
    const { rows } = await pg.query<{ id: string; pushed_at: Date | null }>('SELECT id, pushed_at FROM notifications WHERE stream_id = $1', [streamId]);
    return rows[0];
  }

  it('the notification is pushed exactly once, by the sweep of the listener that takes over, and marked', async () => {
    const streamId = await send('Answered while the listener dies');

    // The listener committed the notification and sent its push: the proxy held it, so Redis never saw it.
    await proxy.until(() => proxy.frozen !== null, 'notification.created push from the listener', 30_000);
    expect(proxy.frozen?.command).toBe('PUBLISH');
    const row = await notificationRow(streamId);
    expect(row).toEqual({ id: expect.any(String), pushed_at: null });
    await doomed.kill();
    expect(doomed.lines.some((l) => l.msg === 'notification decided' && l.streamId === streamId)).toBe(true);

    // Without a listener nothing pushes it: a few sweep intervals later, the user has still seen nothing.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(received.filter((n) => n.streamId === streamId)).toEqual([]);
    expect((await notificationRow(streamId)).pushed_at).toBeNull();

    const pushed = nextEvent(inbox, 'notification.created', (n) => n.streamId === streamId, 20_000);
    const successor = await system.addWorker({ WORKER_ROLE: 'listener' });
    const notice = await pushed;
    expect({ id: notice.id, type: notice.type }).toEqual({ id: row.id, type: 'ai.message.received' });
    await successor.waitForLog((l) => l.msg === 'unpushed notifications pushed by the sweep' && (l.notificationIds as string[]).includes(row.id), 10_000, 'the sweep push');
    const marked = await eventually(async () => (await notificationRow(streamId)).pushed_at ?? undefined, 'pushed_at to be set', 10_000);
    expect(marked).toBeInstanceOf(Date);
    // Not decided again: the decision was the dead listener's.
    expect(successor.lines.some((l) => l.msg === 'notification decided' && l.streamId === streamId)).toBe(false);

    // A fence: the successor pushes every notification on one Redis connection, in order, and
    // the first is marked; so once a later one arrives, any duplicate of the first would have too.
    const fence = await send('After the takeover');
    await eventually(async () => (received.some((n) => n.streamId === fence) ? true : undefined), 'the fence notification', 20_000);
    expect(received.filter((n) => n.streamId === streamId).map((n) => n.id)).toEqual([row.id]);
    expect(received.filter((n) => n.streamId === fence)).toHaveLength(1);
    expect((await notificationRow(fence)).pushed_at).toBeInstanceOf(Date);
  });
});
