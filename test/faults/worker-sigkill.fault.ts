import type { Notification } from '@bgs/shared';
import { simulatedAnswer } from '@bgs/server';
import { eventually, type HttpClient } from '../support/http';
import type { ManagedProcess } from '../support/processes';
import { RedisServer } from '../support/redis-server';
import { connectSocket, type TestSocket } from '../support/sockets';
import { TestSystem } from '../support/system';

const STREAMS = 20;
const TOKENS = 80;
// Short locks so the dead worker's jobs are recovered within about five seconds (not
// shorter: on a busy machine a live worker may miss a renewal); 12 jobs per worker so
// the 20 streams must spread over both workers.
const ENV = { FRAME_MS: '20', LOCK_DURATION_MS: '4000', STALLED_INTERVAL_MS: '1000', WORKER_CONCURRENCY: '12', RATE_LIMIT_SENDS: '1000' };

const startedOn = (w: ManagedProcess) => new Set(w.lines.filter((l) => l.msg === 'generation started').map((l) => l.streamId as string));
const endedOn = (w: ManagedProcess) => new Set(w.lines.filter((l) => l.msg === 'generation ended').map((l) => l.streamId as string));

describe('fault: a worker SIGKILLed mid-stream under load', () => {
  let redis: RedisServer;
  let system: TestSystem;
  let inbox: TestSocket;

  beforeAll(async () => {
    redis = await RedisServer.start();
    system = await TestSystem.start({ apis: 1, workers: 2, redisUrl: redis.url, env: ENV });
  });
  afterAll(async () => {
    inbox?.disconnect();
    await system?.stop();
    await redis?.close();
  });

  it(`${STREAMS} streams, one of two workers killed: every stream completes with its exact text, one final message and one notification each`, async () => {
    const api: HttpClient & { token: string } = await system.client('sigkill-user');
    // The user's badge: a socket in the user's room, with no thread open (so every stream notifies).
    inbox = await connectSocket(system.url(), api.token);
    const notified: Notification[] = [];
    inbox.on('notification.created', (n) => notified.push(n));

    const streams: Array<{ threadId: string; streamId: string; expected: string }> = [];
    for (let i = 0; i < STREAMS; i++) {
      const threadId = (await api.post('/api/threads', { title: `Load ${i}` })).body.id as string;
      // 80 tokens at 25/s: about 3 s each, so the kill lands mid-stream.
      const content = `Stream ${i} under load [sim tokens=${TOKENS} rate=25]`;
      const sent = await api.post(`/api/threads/${threadId}/messages`, { content });
      expect(sent.status).toBe(202);
      streams.push({ threadId, streamId: sent.body.stream.id, expected: simulatedAnswer(content, TOKENS).join('') });
    }

    // Every stream has started somewhere, and both workers hold some: kill the busier one.
    const [a, b] = system.workers;
    await eventually(async () => (startedOn(a).size + startedOn(b).size >= STREAMS ? true : undefined), 'all streams started', 20_000);
    const inFlight = (w: ManagedProcess) => [...startedOn(w)].filter((id) => !endedOn(w).has(id));
    const [victim, survivor] = inFlight(a).length >= inFlight(b).length ? [a, b] : [b, a];
    const killedWith = inFlight(victim);
    expect(killedWith.length).toBeGreaterThan(0);
    await victim.kill();

    for (const s of streams) {
      const state = await eventually(async () => {
        const r = (await api.get(`/api/streams/${s.streamId}`)).body;
        return r.status === 'completed' || r.status === 'failed' ? r : undefined;
      }, `stream ${s.streamId} to end`, 30_000);
      expect({ status: state.status, content: state.content }).toEqual({ status: 'completed', content: s.expected });
      const messages = (await api.get(`/api/threads/${s.threadId}/messages`)).body.items as Array<{ role: string; status: string; content: string }>;
      expect(messages.map((m) => `${m.role}:${m.status}`)).toEqual(['user:complete', 'assistant:complete']);
      expect(messages[1].content).toBe(s.expected);
    }
    // The survivor ran a second attempt of each stream the victim held.
    for (const id of killedWith) await survivor.waitForLog((l) => l.msg === 'generation ended' && l.streamId === id && (l.attempt as number) >= 2, 10_000, `recovery of ${id}`);

    const ids = new Set(streams.map((s) => s.streamId));
    await eventually(async () => (notified.filter((n) => ids.has(n.streamId)).length >= STREAMS ? true : undefined), 'a notification per stream', 20_000);
    const listed = (await api.get('/api/notifications?limit=100')).body.items as Notification[];
    for (const list of [notified, listed]) {
      const perStream = streams.map((s) => list.filter((n) => n.streamId === s.streamId));
      expect(perStream.map((n) => n.length)).toEqual(streams.map(() => 1));
      expect(perStream.every(([n]) => n.type === 'ai.message.received')).toBe(true);
    }
    console.log(`worker-sigkill: ${STREAMS} streams, victim held ${killedWith.length}, all completed; lost 0`);
  }, 120_000);
});
