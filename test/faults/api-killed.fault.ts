import type { Notification } from '@bgs/shared';
import { simulatedAnswer } from '@bgs/server';
import { eventually, type HttpClient } from '../support/http';
import { RedisServer } from '../support/redis-server';
import { connectSocket, nextEvent, openThread, type TestSocket } from '../support/sockets';
import { TestSystem } from '../support/system';
import { expectContiguous, seqRange, stepView } from '../support/follower-assertions';
import { ThreadFollower } from '../support/thread-follower';

const PRESENCE_TTL_MS = 1_500;
const ENV = { FRAME_MS: '20', PRESENCE_TTL_MS: String(PRESENCE_TTL_MS), RATE_LIMIT_SENDS: '1000' };

describe('fault: an API instance SIGKILLed with sockets attached', () => {
  let redis: RedisServer;
  let system: TestSystem;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    system = await TestSystem.start({ apis: 2, workers: 1, redisUrl: redis.url, env: ENV });
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await system?.stop();
    await redis?.close();
  });

  async function socketOn(api: number, token: string): Promise<TestSocket> {
    const socket = await connectSocket(system.url(api), token);
    sockets.push(socket);
    return socket;
  }

  it('clients reconnect to the other instance, open their threads again and end with the exact answers; the dead instance’s presence expires', async () => {
    // REST through API 2 (index 1), which survives; the sockets start on API 1 (index 0).
    const api: HttpClient & { token: string } = await system.client('api-kill-user', 1);
    const watched: Array<{ threadId: string; streamId: string; expected: string; follower: ThreadFollower }> = [];
    const tab = await socketOn(0, api.token);
    for (let i = 0; i < 4; i++) {
      const threadId = (await api.post('/api/threads', { title: `Resume ${i}` })).body.id as string;
      const follower = new ThreadFollower(tab, threadId);
      follower.snapshot(await openThread(tab, threadId));
      // 160 tokens at 40/s: 4 s, so each is mid-stream when the instance dies.
      const content = `Resume after a crash ${i} [sim tokens=160 rate=40]`;
      const streamId = (await api.post(`/api/threads/${threadId}/messages`, { content })).body.stream.id as string;
      watched.push({ threadId, streamId, expected: simulatedAnswer(content, 160).join(''), follower });
    }
    // Another tab on the dying instance has a thread open and never comes back: its
    // presence must lapse, so that thread's answer notifies.
    const lostTab = await socketOn(0, api.token);
    const orphanThread = (await api.post('/api/threads', { title: 'Left open on the dead instance' })).body.id as string;
    expect((await openThread(lostTab, orphanThread)).ok).toBe(true);
    const orphanContent = 'Nobody is watching [sim tokens=240 rate=40]';
    const orphanStream = (await api.post(`/api/threads/${orphanThread}/messages`, { content: orphanContent })).body.stream.id as string;
    for (const w of watched) await nextEvent(tab, 'stream.delta', (e) => e.streamId === w.streamId && e.seq >= 3);

    const disconnected = new Promise<string>((resolve) => tab.once('disconnect', resolve));
    await system.apis[0].kill();
    expect(await disconnected).toBe('transport close');
    // What each thread showed when the instance died: frames 1.. applied one by one.
    const beforeKill = watched.map((w) => {
      const shown = expectContiguous(w.follower, w.streamId, { expected: w.expected, fromFirstFrame: true });
      expect(shown.steps.map((s) => `${s.kind}:${s.attempt}:${s.seq}`)).toEqual(seqRange(1, shown.steps.length).map((seq) => `frame:1:${seq}`));
      expect(shown.steps.length).toBeGreaterThanOrEqual(3);
      return shown.steps.map(stepView);
    });

    // The chat app reconnects (through the load balancer, to API 2), keeps what it
    // showed, opens its threads again and applies each snapshot by the resume rule.
    const tab2 = await socketOn(1, api.token);
    const notified: Notification[] = [];
    tab2.on('notification.created', (n) => notified.push(n));
    for (const w of watched) {
      const resumed = new ThreadFollower(tab2, w.threadId).takeOver(w.follower);
      w.follower = resumed;
      resumed.snapshot(await openThread(tab2, w.threadId));
    }
    for (const [i, w] of watched.entries()) {
      await w.follower.untilShownFinal(w.streamId, 20_000);
      expect(w.follower.ended(w.streamId)).toBe('completed');
      expect(w.follower.content(w.streamId)).toBe(w.expected);
      // Step by step across the kill: the frames shown before it, kept; then the snapshot
      // on API 2 (same attempt, further on, extending that text) or the next frames; then
      // every later frame exactly once, in order; the text the steps assembled is the
      // final message.
      const shown = expectContiguous(w.follower, w.streamId, { expected: w.expected, ended: 'completed' });
      expect(shown.steps.slice(0, beforeKill[i].length).map(stepView)).toEqual(beforeKill[i]);
      const after = shown.steps.slice(beforeKill[i].length);
      expect(after.length).toBeGreaterThan(0);
      expect(after.filter((s) => s.kind === 'reset')).toEqual([]);
      expect(after.every((s) => s.attempt === 1)).toBe(true);
      expect(after.at(-1)!.text).toBe(w.expected);
      if (shown.final) expect(shown.final).toEqual({ status: 'completed', content: w.expected });
    }

    // The thread left open only on the dead instance notifies once its presence lapsed;
    // the threads open on API 2 do not.
    const orphanNotice = notified.find((n) => n.streamId === orphanStream) ?? (await nextEvent(tab2, 'notification.created', (n) => n.streamId === orphanStream, 20_000));
    expect(orphanNotice.type).toBe('ai.message.received');
    expect(orphanNotice.body.startsWith(simulatedAnswer(orphanContent, 240).join('').slice(0, 60))).toBe(true);
    const listed = (await api.get('/api/notifications?limit=100')).body.items as Notification[];
    expect(listed.map((n) => n.streamId)).toEqual([orphanStream]);
    const decided = await eventually(async () => {
      const s = (await api.get(`/api/streams/${orphanStream}`)).body;
      return s.status === 'completed' ? s : undefined;
    }, 'the orphan stream');
    expect(decided.content).toBe(simulatedAnswer(orphanContent, 240).join(''));
    console.log(`api-killed: 4 followed streams + 1 orphan, API SIGKILLed mid-stream; all 4 resumed on API 2 with exact text; orphan notified after presence TTL; lost 0`);
  }, 120_000);
});
