import type { Notification } from '@bgs/shared';
import { simulatedAnswer } from '@bgs/server';
import { eventually, httpClient, type HttpAnswer, type HttpClient, streamEnded } from '../support/http';
import { PostgresServer } from '../support/postgres-server';
import { RedisServer } from '../support/redis-server';
import { TestSystem } from '../support/system';

const TOKENS = 60;
/** How long Postgres stays down: longer than what the running streams have left, and than BullMQ's retries. */
const OUTAGE_MS = 5_000;
const ENV = {
  FRAME_MS: '20',
  WORKER_CONCURRENCY: '3',
  CHECKPOINT_MS: '300',
  GENERATION_BACKOFF_MS: '300',
  RATE_LIMIT_SENDS: '1000',
  SWEEP_INTERVAL_MS: '500',
};

function expectUnavailable(res: HttpAnswer, what: string) {
  expect({ what, status: res.status, code: res.body?.error?.code }).toEqual({ what, status: 503, code: 'unavailable' });
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
}

describe('fault: Postgres crashed and restarted mid-run', () => {
  let pg: PostgresServer;
  let redis: RedisServer;
  let system: TestSystem;

  beforeAll(async () => {
    [pg, redis] = await Promise.all([PostgresServer.start(), RedisServer.start()]);
    system = await TestSystem.start({ apis: 1, workers: 1, redisUrl: redis.url, env: { ...ENV, DATABASE_URL: pg.url } });
  }, 90_000);
  afterAll(async () => {
    await system?.stop();
    await Promise.all([pg?.close(), redis?.close()]);
  });

  it('running and queued streams still end (completed, none left streaming); the API answers 503 meanwhile', async () => {
    const api: HttpClient & { token: string } = await system.client('pg-fault-user');
    const streams: Array<{ threadId: string; streamId: string; content: string; expected: string }> = [];
    for (let i = 0; i < 6; i++) {
      const threadId = (await api.post('/api/threads', { title: `Postgres ${i}` })).body.id as string;
      // 60 tokens at 30/s: 2 s each, so the running ones end while Postgres is down.
      const content = `Survive Postgres ${i} [sim tokens=${TOKENS} rate=30]`;
      const sent = await api.post(`/api/threads/${threadId}/messages`, { content });
      expect(sent.status).toBe(202);
      streams.push({ threadId, streamId: sent.body.stream.id, content, expected: simulatedAnswer(content, TOKENS).join('') });
    }
    const [worker] = system.workers;
    const hasStarted = (s: { streamId: string }) => worker.lines.some((l) => l.msg === 'generation started' && l.streamId === s.streamId);
    await eventually(async () => (streams.filter(hasStarted).length === 3 ? true : undefined), 'three streams running');

    await pg.stop('immediate');
    const down = Date.now();
    const anon = httpClient(system.url());
    const ready = await anon.get('/readyz');
    expectUnavailable(ready, 'readyz');
    expect(ready.body.error.details.checks).toEqual({ postgres: 'unavailable', redis: 'ok' });
    expectUnavailable(await api.get('/api/threads'), 'thread list');
    expectUnavailable(await api.get(`/api/streams/${streams[0].streamId}`), 'stream read');
    expectUnavailable(await api.post(`/api/threads/${streams[0].threadId}/messages`, { content: 'Lost?' }), 'send');
    await new Promise((r) => setTimeout(r, Math.max(0, down + OUTAGE_MS - Date.now())));
    await pg.restart();
    const recoveredIn = await eventually(async () => ((await anon.get('/readyz')).status === 200 ? Date.now() - down : undefined), 'readyz after restart', 20_000);

    for (const s of streams) {
      const state = await streamEnded(api, s.streamId, 45_000);
      expect({ status: state.status, content: state.content, error: state.error }).toEqual({ status: 'completed', content: s.expected, error: undefined });
      const messages = (await api.get(`/api/threads/${s.threadId}/messages`)).body.items as Array<{ role: string; status: string; content: string }>;
      expect(messages.map((m) => `${m.role}:${m.status}`)).toEqual(['user:complete', 'assistant:complete']);
      expect(messages[1].content).toBe(s.expected);
    }
    // No thread was open: each stream notifies once, though the listener could not decide during the outage.
    const ids = new Set(streams.map((s) => s.streamId));
    const listed = await eventually(async () => {
      const items = (await api.get('/api/notifications?limit=100')).body.items as Notification[];
      return items.filter((n) => ids.has(n.streamId)).length >= streams.length ? items : undefined;
    }, 'a notification per stream', 20_000);
    expect(streams.map((s) => listed.filter((n) => n.streamId === s.streamId).length)).toEqual(streams.map(() => 1));
    console.log(`postgres-restart: 3 running + 3 queued streams, Postgres crashed for ${OUTAGE_MS} ms; ready again ${recoveredIn} ms after the crash; all 6 completed; lost 0`);
  }, 150_000);
});
