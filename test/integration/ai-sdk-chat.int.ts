import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { SseParser } from '@bgs/shared';
import { simulatedAnswer } from '@bgs/server';
import { grewTo, StockChat, textOf } from '../support/ai-sdk-chat';
import { eventually, type HttpClient } from '../support/http';
import { closeThread, connectSocket, openThread } from '../support/sockets';
import { TestSystem } from '../support/system';

/**
 * docs/protocol.md#ai-sdk-chat with the AI SDK's own client: `AbstractChat` and
 * `DefaultChatTransport` from the `ai` package, unchanged, against the real API, worker,
 * Redis and Postgres. What the chat shows is checked after every update it received.
 */
const chatId = () => `chat_${randomBytes(6).toString('base64url')}`;
const userText = (text: string) => ({ id: randomBytes(4).toString('hex'), role: 'user' as const, parts: [{ type: 'text' as const, text }] });

/** The UI message stream chunks of a raw POST /api/chat, parsed as the transport parses them. */
async function rawChunks(baseUrl: string, token: string, id: string, text: string) {
  const res = await fetch(`${baseUrl}/api/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ id, messages: [userText(text)], trigger: 'submit-message' }),
  });
  const parser = new SseParser();
  const data = parser.push(await res.text()).map((e) => e.data);
  return { res, data, chunks: data.filter((d) => d !== '[DONE]').map((d) => JSON.parse(d) as { type: string; [k: string]: unknown }) };
}

describe('the AI SDK chat protocol (background streaming)', () => {
  let system: TestSystem;
  let pg: Client;
  let alice: HttpClient & { token: string };

  beforeAll(async () => {
    system = await TestSystem.start({ apis: 1, workers: 1, env: { FRAME_MS: '20', PRESENCE_TTL_MS: '3000', RATE_LIMIT_SENDS: '1000', GENERATION_ATTEMPTS: '1' } });
    pg = new Client({ connectionString: system.db.url });
    await pg.connect();
    alice = await system.client('ai-sdk-alice');
  });
  afterAll(async () => {
    await pg?.end();
    await system?.stop();
  });

  const stored = async (id: string) => (await alice.get(`/api/threads/${id}/messages`)).body.items as Array<{ id: string; role: string; content: string; status: string; streamId?: string }>;
  const decision = async (streamId: string) => {
    const { rows } = await pg.query('SELECT notification_decision FROM streams WHERE id = $1', [streamId]);
    return (rows[0]?.notification_decision as string | null) ?? undefined;
  };
  const notificationsFor = async (streamId: string) =>
    ((await alice.get('/api/notifications?limit=100')).body.items as Array<{ streamId: string; type: string }>).filter((n) => n.streamId === streamId);

  /** Sends with the stock chat and leaves (its `stop()`: a disconnect) once the first words showed; `before` runs while it reads. */
  async function leaveMidAnswer(text: string, before?: (id: string) => Promise<void>) {
    const id = chatId();
    const chat = new StockChat(system.url(), alice.token, id);
    const sending = chat.sendMessage({ text });
    await eventually(async () => (chat.answer.length > 0 ? true : undefined), 'the first words', 10_000, 10);
    await before?.(id);
    await chat.stop();
    await sending;
    const [, answer] = await stored(id);
    return { id, chat, streamId: answer.streamId as string };
  }

  const notifiedOnce = (streamId: string) =>
    eventually(async () => {
      const n = await notificationsFor(streamId);
      return n.length > 0 ? n : undefined;
    }, `the notification of ${streamId}`, 20_000);

  it('answers with the UI message stream: start (the assistant message id), text-start, deltas, text-end, finish, [DONE]', async () => {
    const id = chatId();
    const content = 'Raw protocol [sim tokens=30 rate=300]';
    const { res, data, chunks } = await rawChunks(system.url(), alice.token, id, content);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-vercel-ai-ui-message-stream')).toBe('v1');
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const [assistant] = (await stored(id)).filter((m) => m.role === 'assistant');
    const types = chunks.map((c) => c.type);
    expect(types[0]).toBe('start');
    expect(chunks[0].messageId).toBe(assistant.id);
    expect(types.slice(1, 2)).toEqual(['text-start']);
    expect(types.slice(-2)).toEqual(['text-end', 'finish']);
    expect(new Set(types.slice(2, -2))).toEqual(new Set(['text-delta']));
    expect(data[data.length - 1]).toBe('[DONE]');
    const text = chunks.filter((c) => c.type === 'text-delta').map((c) => c.delta).join('');
    expect(text).toBe(simulatedAnswer(content, 30).join(''));
    expect(assistant).toMatchObject({ status: 'complete', content: text });
  });

  it('a new chat id creates the thread under that id; the stock chat shows the answer grow to the stored one', async () => {
    const id = chatId();
    const chat = new StockChat(system.url(), alice.token, id);
    const content = 'Hello there [sim tokens=40 rate=200]';
    await chat.sendMessage({ text: content });
    const expected = simulatedAnswer(content, 40).join('');
    expect(chat.errors).toEqual([]);
    expect(chat.status).toBe('ready');
    expect(chat.answer).toBe(expected);
    expect(grewTo(chat.view.shown, expected)).toEqual([]);
    expect(chat.view.shown.length).toBeGreaterThan(2);
    expect((await alice.get(`/api/threads/${id}`)).body).toMatchObject({ id, title: 'Hello there [sim tokens=40 rate=200]', activeStreamId: null });
    expect((await stored(id)).map((m) => [m.role, m.status, m.content])).toEqual([
      ['user', 'complete', content],
      ['assistant', 'complete', expected],
    ]);
    // Nothing runs any more: there is nothing to resume.
    expect((await alice.get(`/api/chat/${id}/stream`)).status).toBe(204);
    const later = new StockChat(system.url(), alice.token, id);
    await later.resumeStream();
    expect([later.status, later.view.messages.length]).toEqual(['ready', 0]);
    // The chat's thread is a thread like any other, on the socket too.
    const socket = await connectSocket(system.url(), alice.token);
    try {
      const ack = await openThread(socket, id);
      expect(ack).toMatchObject({ ok: true, streams: [{ status: 'completed', content: expected }] });
      expect(await closeThread(socket, id)).toEqual({ ok: true });
    } finally {
      socket.disconnect();
    }
  });

  it('a disconnect mid-answer never stops it; resumeStream() on a new chat shows the whole answer, no gap, no duplicate', async () => {
    const id = chatId();
    const content = 'Long story [sim tokens=160 rate=60]';
    const first = new StockChat(system.url(), alice.token, id);
    const sending = first.sendMessage({ text: content });
    await eventually(async () => (first.answer.split(' ').length > 10 ? true : undefined), 'some of the answer', 10_000, 10);
    await first.stop(); // the stock stop(): only a disconnect
    await sending;
    const seenBefore = first.answer;
    const [, running] = await stored(id);
    expect(running.status).toBe('streaming');

    const second = new StockChat(system.url(), alice.token, id);
    await second.resumeStream();
    const expected = simulatedAnswer(content, 160).join('');
    expect(second.errors).toEqual([]);
    expect(second.answer).toBe(expected);
    expect(expected.startsWith(seenBefore)).toBe(true);
    // Replayed: the text so far in one delta, then the live frames, each extending the last.
    expect(grewTo(second.view.shown, expected)).toEqual([]);
    expect(second.view.shown.length).toBeGreaterThan(2);
    expect((await stored(id))[1]).toMatchObject({ status: 'complete', content: expected });
  });

  it('DELETE /api/chat/:id/stream stops the generation on the server; the reader ends with finish; idempotent', async () => {
    const id = chatId();
    const chat = new StockChat(system.url(), alice.token, id);
    const sending = chat.sendMessage({ text: 'Stop me [sim tokens=400 rate=50]' });
    await eventually(async () => (chat.answer.length > 0 ? true : undefined), 'the first words', 10_000, 10);
    expect((await alice.delete(`/api/chat/${id}/stream`)).status).toBe(204);
    await sending;
    expect(chat.errors).toEqual([]);
    expect(chat.status).toBe('ready');
    const [, answer] = await stored(id);
    expect(answer.status).toBe('cancelled');
    expect(answer.content.length).toBeGreaterThan(0);
    // The reader was told everything up to the stop: it shows the stored partial answer.
    expect(chat.answer).toBe(answer.content);
    expect((await alice.get(`/api/streams/${answer.streamId}`)).body.status).toBe('cancelled');
    expect((await alice.delete(`/api/chat/${id}/stream`)).status).toBe(204);
    expect((await alice.get(`/api/chat/${id}/stream`)).status).toBe(204);
  });

  it("another user's chat id is not found on POST, GET and DELETE, exactly like a missing one", async () => {
    const id = chatId();
    await new StockChat(system.url(), alice.token, id).sendMessage({ text: 'Mine [sim tokens=5 rate=500]' });
    const bob = await system.client('ai-sdk-bob');
    const notFound = [404, { error: { code: 'not_found', message: 'thread not found' } }];
    const post = await bob.post('/api/chat', { id, messages: [userText('let me in')], trigger: 'submit-message' });
    expect([post.status, post.body]).toEqual(notFound);
    for (const target of [id, chatId()]) {
      const resume = await bob.get(`/api/chat/${target}/stream`);
      const stop = await bob.delete(`/api/chat/${target}/stream`);
      expect([resume.status, resume.body]).toEqual(notFound);
      expect([stop.status, stop.body]).toEqual(notFound);
    }
    // Alice's thread is untouched.
    expect((await stored(id)).map((m) => m.role)).toEqual(['user', 'assistant']);
  });

  it('refuses a body without a user text, in JSON', async () => {
    const res = await alice.post('/api/chat', { id: chatId(), messages: [{ role: 'user', parts: [{ type: 'file', url: 'x' }] }] });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    const badId = await alice.post('/api/chat', { id: 'no spaces allowed', messages: [userText('hi')] });
    expect([badId.status, badId.body.error.code]).toEqual([400, 'invalid_request']);
  });

  describe('notifications', () => {
    it('an answer read to its finish is never notified, though the response closes before the decision', async () => {
      const id = chatId();
      const chat = new StockChat(system.url(), alice.token, id);
      await chat.sendMessage({ text: 'Watched to the end [sim tokens=20 rate=400]' });
      const [, answer] = await stored(id);
      const decided = await eventually(() => decision(answer.streamId as string), 'the notification decision', 15_000);
      expect(decided).toBe('skipped_open');
      expect(await notificationsFor(answer.streamId as string)).toEqual([]);
    });

    it('a reader that left before the end gets one ai.message.received when it completes unseen', async () => {
      const { streamId } = await leaveMidAnswer('Left early [sim tokens=60 rate=60]');
      expect((await notifiedOnce(streamId)).map((n) => n.type)).toEqual(['ai.message.received']);
      expect(await decision(streamId)).toBe('notified');
    });

    it('a failure read by nobody is a system.warning; a muted chat completing unseen is not notified', async () => {
      const broken = await leaveMidAnswer('Breaks [sim tokens=80 rate=40 fail=transient at=30 times=1]');
      expect((await notifiedOnce(broken.streamId)).map((n) => n.type)).toEqual(['system.warning']);

      const quiet = await leaveMidAnswer('Quiet please [sim tokens=60 rate=60]', async (id) => {
        expect((await alice.patch(`/api/threads/${id}`, { muted: true })).status).toBe(200);
      });
      expect(await eventually(() => decision(quiet.streamId), 'the decision', 20_000)).toBe('skipped_muted');
      expect(await notificationsFor(quiet.streamId)).toEqual([]);
    });
  });
});

describe('the AI SDK chat protocol with background streaming off', () => {
  let system: TestSystem;
  let alice: HttpClient & { token: string };

  beforeAll(async () => {
    system = await TestSystem.start({ apis: 1, workers: 0, env: { BACKGROUND_STREAMING: 'false', FRAME_MS: '20' } });
    alice = await system.client('ai-sdk-direct');
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('POST streams the answer directly; GET has nothing to resume (204); DELETE stops it', async () => {
    const id = chatId();
    const chat = new StockChat(system.url(), alice.token, id);
    const content = 'Direct [sim tokens=30 rate=300]';
    await chat.sendMessage({ text: content });
    const expected = simulatedAnswer(content, 30).join('');
    expect(chat.answer).toBe(expected);
    expect(grewTo(chat.view.shown, expected)).toEqual([]);
    expect((await alice.get(`/api/chat/${id}/stream`)).status).toBe(204);

    const stopping = new StockChat(system.url(), alice.token, chatId());
    const sending = stopping.sendMessage({ text: 'Direct, stopped [sim tokens=400 rate=50]' });
    await eventually(async () => (stopping.answer.length > 0 ? true : undefined), 'the first words', 10_000, 10);
    expect((await alice.delete(`/api/chat/${stopping.id}/stream`)).status).toBe(204);
    await sending;
    const items = (await alice.get(`/api/threads/${stopping.id}/messages`)).body.items;
    expect(items[1].status).toBe('cancelled');
    expect(stopping.answer).toBe(items[1].content);
    expect(textOf(stopping.view.messages[1])).toBe(items[1].content);
  });
});
