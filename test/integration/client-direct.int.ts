import net, { type AddressInfo } from 'node:net';
import { createChatClient, type ChatClient } from '@bgs/client';
import { simulatedAnswer } from '@bgs/server';
import { SseParser, type SseEvent } from '@bgs/shared';
import { answerOf, expectGrowing, recordAnswers, until } from '../support/client-views';
import { eventually } from '../support/http';
import { TestSystem } from '../support/system';

/**
 * A TCP port that counts connection attempts and speaks no Redis: REDIS_URL points here,
 * so "the API makes no Redis connection" is a number, not an absence of errors.
 */
async function connectionTrap() {
  let attempts = 0;
  const server = net.createServer((socket) => {
    attempts++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    attempts: () => attempts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}


/** Reads an SSE response to the end, or until `stopAfter` says to drop it. */
async function readEvents(res: Response, stopAfter?: (events: SseEvent[]) => boolean, abort?: AbortController): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      events.push(...parser.push(decoder.decode(value, { stream: true })));
      if (stopAfter?.(events)) {
        abort?.abort();
        break;
      }
    }
  } catch (err) {
    if (!abort?.signal.aborted) throw err;
  }
  return events;
}

/** docs/protocol.md#direct-mode: with background streaming off, the API needs no Redis and the answer streams in the response. */
describe('background streaming off (direct mode) and the browser client', () => {
  let trap: Awaited<ReturnType<typeof connectionTrap>>;
  let system: TestSystem;
  const clients: ChatClient[] = [];
  const requests: string[] = [];
  const recordingFetch: typeof fetch = (input, init) => {
    requests.push(`${init?.method ?? 'GET'} ${new URL(String(input)).pathname}`);
    return fetch(input, init);
  };

  beforeAll(async () => {
    trap = await connectionTrap();
    system = await TestSystem.start({ workers: 0, redisUrl: trap.url, env: { BACKGROUND_STREAMING: 'false', FRAME_MS: '20' } });
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(async () => {
    await system?.stop();
    await trap?.close();
  });

  async function clientFor(userId: string) {
    const client = await createChatClient({ baseUrl: system.url(), token: await system.token(userId), fetch: recordingFetch });
    clients.push(client);
    return client;
  }

  const sseHeaders = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'text/event-stream' });

  it('starts with no Redis reachable: capabilities say so, /readyz checks Postgres only', async () => {
    const caps = await fetch(`${system.url()}/api/capabilities`).then((r) => r.json());
    expect(caps).toEqual(expect.objectContaining({ backgroundStreaming: false, realtime: null }));
    const ready = await fetch(`${system.url()}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { postgres: 'ok' } });
    expect(trap.attempts()).toBe(0);
  });

  it('streams the answer in the response: started, every frame once in order, completed; the message is stored', async () => {
    const api = await system.client('sse-alice');
    const thread = (await api.post('/api/threads', { title: 'Direct' })).body.id as string;
    const content = 'Direct answer please [sim tokens=40 rate=400]';
    const res = await fetch(`${system.url()}/api/threads/${thread}/messages`, { method: 'POST', headers: sseHeaders(api.token), body: JSON.stringify({ content }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = await readEvents(res);

    const expected = simulatedAnswer(content, 40).join('');
    const [started, ...rest] = events;
    expect(started.event).toBe('started');
    const turn = JSON.parse(started.data);
    expect(turn).toEqual(expect.objectContaining({ userMessage: expect.objectContaining({ content }), stream: expect.objectContaining({ threadId: thread }) }));
    const deltas = rest.filter((e) => e.event === 'delta').map((e) => JSON.parse(e.data) as { seq: number; text: string });
    expect(deltas.map((d) => d.seq)).toEqual(deltas.map((_, i) => i + 1));
    expect(deltas.map((d) => d.text).join('')).toBe(expected);
    expect(rest.at(-1)?.event).toBe('completed');
    expect(JSON.parse(rest.at(-1)!.data).message).toEqual(expect.objectContaining({ id: turn.assistantMessage.id, status: 'complete', content: expected }));

    const stored = (await api.get(`/api/threads/${thread}/messages`)).body.items;
    expect(stored.map((m: { role: string; status: string }) => `${m.role}:${m.status}`)).toEqual(['user:complete', 'assistant:complete']);
    expect(stored[1].content).toBe(expected);
    expect((await api.get(`/api/threads/${thread}`)).body.activeStreamId).toBeNull();
  });

  it('a send without Accept: text/event-stream is refused (400), and nothing is stored', async () => {
    const api = await system.client('sse-bob');
    const thread = (await api.post('/api/threads', {})).body.id as string;
    const res = await api.post(`/api/threads/${thread}/messages`, { content: 'hi' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect((await api.get(`/api/threads/${thread}/messages`)).body.items).toEqual([]);
  });

  it('a client disconnect aborts the provider and leaves a cancelled message with the partial text', async () => {
    const api = await system.client('sse-carol');
    const thread = (await api.post('/api/threads', {})).body.id as string;
    const content = 'A long one [sim tokens=400 rate=50]';
    const abort = new AbortController();
    const res = await fetch(`${system.url()}/api/threads/${thread}/messages`, { method: 'POST', headers: sseHeaders(api.token), body: JSON.stringify({ content }), signal: abort.signal });
    const events = await readEvents(res, (seen) => seen.filter((e) => e.event === 'delta').length >= 3, abort);
    const streamId = JSON.parse(events[0].data).stream.id as string;

    const ended = await system.apis[0].waitForLog((l) => l.msg === 'generation ended' && l.mode === 'direct' && l.streamId === streamId, 10_000);
    expect(ended.status).toBe('cancelled');
    const stored = (await api.get(`/api/threads/${thread}/messages`)).body.items[1];
    const expected = simulatedAnswer(content, 400).join('');
    expect(stored.status).toBe('cancelled');
    expect(stored.content.length).toBeGreaterThan(0);
    expect(stored.content.length).toBeLessThan(expected.length);
    expect(expected.startsWith(stored.content)).toBe(true);
    expect((await api.get(`/api/streams/${streamId}`)).body).toEqual(expect.objectContaining({ status: 'cancelled', content: stored.content }));
    expect((await api.get(`/api/threads/${thread}`)).body.activeStreamId).toBeNull();
  });

  it('a provider failure ends the response with failed, and the message is stored as failed', async () => {
    const api = await system.client('sse-dave');
    const thread = (await api.post('/api/threads', {})).body.id as string;
    const res = await fetch(`${system.url()}/api/threads/${thread}/messages`, {
      method: 'POST',
      headers: sseHeaders(api.token),
      body: JSON.stringify({ content: 'break [sim fail=unrecoverable]' }),
    });
    const events = await readEvents(res);
    expect(events.at(-1)?.event).toBe('failed');
    const failed = JSON.parse(events.at(-1)!.data);
    expect(failed.error).toEqual(expect.objectContaining({ code: expect.any(String), message: expect.any(String) }));
    expect(failed.message.status).toBe('failed');
    expect((await api.get(`/api/threads/${thread}/messages`)).body.items[1].status).toBe('failed');
  });

  it('the client picks the direct transport and shows the answer as it streams: no socket, no polling, no timers left', async () => {
    const client = await clientFor('client-erin');
    expect(client.mode).toBe('direct');
    expect(client.connection()).toBe('none');
    const thread = await client.threads.create({ title: 'Direct client' });
    const view = client.openThread(thread.id);
    await view.ready;
    const seen = recordAnswers(view);
    requests.length = 0;

    const content = 'Stream it to me [sim tokens=60 rate=300]';
    const sent = await client.send(thread.id, content);
    expect(sent.stream.threadId).toBe(thread.id);
    const done = await until(view, (s) => answerOf(s)?.status === 'complete', 'completed answer');
    const expected = simulatedAnswer(content, 60).join('');
    expect(done.messages.map((m) => `${m.role}:${m.status}:${m.content}`)).toEqual([`user:complete:${content}`, `assistant:complete:${expected}`]);
    expect(done.streaming).toBe(false);
    expect(seen.length).toBeGreaterThan(2); // it streamed, not one final jump
    expectGrowing(seen);

    expect(requests).toEqual([`POST /api/threads/${thread.id}/messages`]);
    await eventually(async () => (client.stats().pendingRequests === 0 ? true : undefined), 'the response to end');
    client.flush();
    expect(client.stats()).toEqual(expect.objectContaining({ socketListeners: 0, joinedThreads: 0, timers: 0, pollRounds: 0, liveResponses: 0, subscriptions: 1 }));
    view.close();
    expect(client.stats().subscriptions).toBe(0);
  });

  it('a message sent and left before its ids arrived keeps streaming; coming back shows the whole answer', async () => {
    const client = await clientFor('client-frank');
    const [a, b] = [await client.threads.create({ title: 'A' }), await client.threads.create({ title: 'B' })];
    let viewA = client.openThread(a.id);
    await viewA.ready;
    const content = 'Leave right away [sim tokens=50 rate=250]';
    const sending = client.send(a.id, content);
    viewA.close(); // before the response (and the ids) arrived
    const viewB = client.openThread(b.id);
    const sent = await sending;
    await viewB.ready;

    // The generation was not stopped by leaving: the server completes it.
    await eventually(async () => {
      const s = await fetch(`${system.url()}/api/streams/${sent.stream.id}`, { headers: { authorization: `Bearer ${await system.token('client-frank')}` } }).then((r) => r.json());
      return s.status === 'completed' ? s : undefined;
    }, 'completion while away');
    viewB.close();
    viewA = client.openThread(a.id);
    const back = await until(viewA, (s) => answerOf(s)?.status === 'complete', 'the answer after coming back');
    expect(answerOf(back)?.content).toBe(simulatedAnswer(content, 50).join(''));
    expect(back.messages.filter((m) => m.role === 'user').map((m) => m.content)).toEqual([content]);
    viewA.close();
  });

  it('cancel stops the answer and keeps its partial text, the same on screen and on the server', async () => {
    const client = await clientFor('client-gina');
    const thread = await client.threads.create({});
    const view = client.openThread(thread.id);
    await view.ready;
    const sent = await client.send(thread.id, 'Long [sim tokens=400 rate=60]');
    await until(view, (s) => (answerOf(s)?.content.length ?? 0) > 10, 'some text');
    await client.cancel(sent.stream.id);
    const cancelled = await until(view, (s) => answerOf(s)?.status === 'cancelled', 'cancelled answer');
    const stored = (await (await system.client('client-gina')).get(`/api/threads/${thread.id}/messages`)).body.items[1];
    expect(stored.status).toBe('cancelled');
    expect(answerOf(cancelled)?.content).toBe(stored.content);
    expect(stored.content.length).toBeGreaterThan(10);
    view.close();
  });

  it('a second send while an answer streams is refused with stream_in_progress and leaves no ghost message', async () => {
    const client = await clientFor('client-hank');
    const thread = await client.threads.create({});
    const view = client.openThread(thread.id);
    await view.ready;
    const first = await client.send(thread.id, 'first [sim tokens=200 rate=80]');
    await expect(client.send(thread.id, 'second')).rejects.toMatchObject({ code: 'stream_in_progress', status: 409 });
    client.flush();
    expect(view.get().messages.map((m) => m.content)).not.toContain('second');
    await client.cancel(first.stream.id);
    view.close();
  });

  it('closing the client drops its answer stream; the server keeps the partial text as cancelled', async () => {
    const client = await clientFor('client-ivy');
    const thread = await client.threads.create({});
    const view = client.openThread(thread.id);
    await view.ready;
    const sent = await client.send(thread.id, 'Until I close [sim tokens=400 rate=60]');
    await until(view, (s) => (answerOf(s)?.content.length ?? 0) > 0, 'some text');
    client.close();
    client.close(); // idempotent
    expect(client.stats()).toEqual(expect.objectContaining({ subscriptions: 0, timers: 0 }));
    const api = await system.client('client-ivy');
    const stream = await eventually(async () => {
      const s = (await api.get(`/api/streams/${sent.stream.id}`)).body;
      return s.status === 'cancelled' ? s : undefined;
    }, 'the cancelled stream');
    expect(stream.content.length).toBeGreaterThan(0);
  });

  it('after all of that, the API never tried to reach Redis, and logged nothing about it', async () => {
    expect(trap.attempts()).toBe(0);
    const api = system.apis[0];
    expect(api.running).toBe(true);
    expect(api.lines.filter((l) => /redis|bullmq|enqueue|ECONNREFUSED/i.test(JSON.stringify(l)))).toEqual([]);
  });
});
