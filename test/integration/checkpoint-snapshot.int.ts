import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { Client } from 'pg';
import type { StreamDeltaEvent } from '@bgs/shared';
import { messageVersion, redisKeys, simulatedAnswer } from '@bgs/server';
import { eventually, streamEnded, type HttpClient } from '../support/http';
import { connectSocket, nextEvent, openThread, type TestSocket } from '../support/sockets';
import { TestSystem } from '../support/system';

/**
 * docs/protocol.md#resume-rule, snapshots: when a running stream's live buffer is gone
 * (expired, or lost with Redis data), the three places that show it fall back to the
 * Postgres checkpoint, and then show the checkpoint's own attempt and seq with it (read
 * from the message version), so that content, attempt and seq agree.
 */
describe('snapshots of a running stream without its live buffer', () => {
  let system: TestSystem;
  let redis: Redis;
  let pg: Client;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    system = await TestSystem.start({ env: { FRAME_MS: '20', CHECKPOINT_MS: '100' } });
    redis = new Redis(system.env.REDIS_URL);
    pg = new Client({ connectionString: system.db.url });
    await pg.connect();
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.disconnect();
  });
  afterAll(async () => {
    await pg?.end();
    redis?.disconnect();
    await system?.stop();
  });

  it('GET /api/streams/:id, the thread.open snapshot and GET …/messages show the checkpoint at its own attempt and seq', async () => {
    const api: HttpClient & { token: string } = await system.client(`ckpt-${randomUUID().slice(0, 8)}`);
    const thread = (await api.post('/api/threads', { title: 'Checkpointed' })).body;
    const socket = await connectSocket(system.url(), api.token);
    sockets.push(socket);
    expect((await openThread(socket, thread.id)).ok).toBe(true);

    // 20 tokens, one frame each or so, checkpointed every 100 ms; then the generation hangs
    // (no more frames, no more checkpoints) until it is cancelled.
    const content = `Checkpoint me [sim tokens=100 rate=40 hang at=20] ${randomUUID()}`;
    const sentText = simulatedAnswer(content, 100).slice(0, 20).join('');
    const frames: StreamDeltaEvent[] = [];
    socket.on('stream.delta', (e) => void (e.threadId === thread.id && frames.push(e)));
    const sent = await api.post(`/api/threads/${thread.id}/messages`, { content });
    expect(sent.status).toBe(202);
    const streamId = sent.body.stream.id as string;
    const messageId = sent.body.assistantMessage.id as string;
    const textOf = (upTo: number) => frames.filter((f) => f.attempt === 1 && f.seq <= upTo).sort((a, b) => a.seq - b.seq).map((f) => f.text).join('');

    // Every frame arrived (the generation now hangs) and a checkpoint of attempt 1 is stored.
    await eventually(async () => (textOf(Infinity) === sentText ? true : undefined), 'the 20 tokens to arrive', 20_000);
    const stored = await eventually(async () => {
      const { rows } = await pg.query<{ version: number; content: string }>('SELECT version, content FROM messages WHERE id = $1', [messageId]);
      return rows[0] && rows[0].version > messageVersion(1, 0) ? rows[0] : undefined;
    }, 'a checkpoint in Postgres');
    expect(stored.content).not.toBe('');
    expect(frames.map((f) => f.seq)).toEqual(frames.map((_, i) => i + 1));

    // The live buffer is gone (its TTL lapsed, or Redis lost it); the stream still runs.
    const keys = redisKeys(system.prefix);
    const ref = { streamId, threadId: thread.id };
    expect(await redis.del(keys.streamLive(ref), keys.streamContent(ref))).toBe(2);

    /** Content, attempt and seq agree: the content is what frames 1..seq of that attempt carried. */
    const expectAgreement = (where: string, shown: { attempt: number; seq: number; content: string; status?: string }) => {
      expect({ where, attempt: shown.attempt, content: shown.content }).toEqual({ where, attempt: 1, content: textOf(shown.seq) });
      expect({ where, seq: shown.seq > 0, status: shown.status }).toEqual({ where, seq: true, status: 'streaming' });
    };

    const state = (await api.get(`/api/streams/${streamId}`)).body;
    expectAgreement('GET /api/streams/:id', state);
    expect(state.content).toBe(stored.content);

    const other = await connectSocket(system.url(), api.token);
    sockets.push(other);
    const ack = await openThread(other, thread.id);
    if (!ack.ok) throw new Error(`thread.open failed: ${JSON.stringify(ack)}`);
    expect(ack.streams).toHaveLength(1);
    expectAgreement('thread.open', ack.streams[0]);

    const messages = (await api.get(`/api/threads/${thread.id}/messages`)).body.items;
    const assistant = messages.find((m: { id: string }) => m.id === messageId);
    expectAgreement('GET /api/threads/:id/messages', assistant);
    expect(assistant.version).toBe(messageVersion(1, assistant.seq));

    // The three agree with each other too (no checkpoint can land: the generation hangs).
    expect(ack.streams[0]).toMatchObject({ attempt: state.attempt, seq: state.seq, content: state.content });
    expect(assistant).toMatchObject({ attempt: state.attempt, seq: state.seq, content: state.content });

    // Let it go: the cancel reaches the hanging worker, which ends the stream.
    const cancelled = nextEvent(socket, 'stream.cancelled', (e) => e.streamId === streamId);
    expect((await api.post(`/api/streams/${streamId}/cancel`)).status).toBe(202);
    await cancelled;
    expect((await streamEnded(api, streamId)).status).toBe('cancelled');
  });
});
