import type { SendMessageResult } from '@bgs/shared/browser';
import { DirectTransport } from './direct-transport';
import { HttpApi } from './http-api';
import { ThreadStore } from './thread-store';
import type { TransportContext } from './transport';

const T = 'thread-1';
const result: SendMessageResult = {
  userMessage: { id: 'u1', threadId: T, role: 'user', content: 'Hi', status: 'complete', version: 0, createdAt: '2026-01-01T00:00:00.000Z' },
  assistantMessage: { id: 'a1', threadId: T, role: 'assistant', content: '', status: 'streaming', streamId: 's1', version: 0, createdAt: '2026-01-01T00:00:00.001Z' },
  stream: { id: 's1', threadId: T, messageId: 'a1', status: 'queued', attempt: 0, seq: 0, content: '' },
};
const sse = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/** A fetch whose SSE body the test writes chunk by chunk. */
function sseFetch() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  const encoder = new TextEncoder();
  const fetchImpl = (async (_url: string, init?: RequestInit) => {
    init?.signal?.addEventListener('abort', () => controller.error(Object.assign(new Error('aborted'), { name: 'AbortError' })));
    return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
  }) as typeof fetch;
  return { fetchImpl, write: (text: string) => controller.enqueue(encoder.encode(text)), end: () => controller.close() };
}

function setup() {
  const server = sseFetch();
  const store = new ThreadStore(() => () => undefined, () => undefined);
  store.ensure(T);
  const refreshed: string[] = [];
  const ctx: TransportContext = {
    api: new HttpApi({ baseUrl: 'http://api.test', token: 't', fetch: server.fetchImpl }),
    store,
    refreshHistory: (id) => void refreshed.push(id),
    notification: () => undefined,
    statusChanged: () => undefined,
    threadDeleted: () => undefined,
    report: () => undefined,
  };
  const transport = new DirectTransport(ctx);
  const answer = () => store.view(T).messages.find((m) => m.role === 'assistant');
  // Lets the read loop take what was written: it runs on promise jobs, done by the next macrotask.
  const settle = () => new Promise((r) => setImmediate(r));
  return { server, store, transport, answer, refreshed, settle, api: ctx.api };
}

describe('DirectTransport', () => {
  it('resolves the send at `started` and streams frames into the thread until `completed`', async () => {
    const t = setup();
    const sending = t.transport.send(T, 'Hi', 'local-1', {});
    t.server.write(sse('started', result));
    await expect(sending).resolves.toEqual(result);
    t.server.write(sse('delta', { seq: 1, text: 'Hel' }) + sse('delta', { seq: 2, text: 'lo' }).slice(0, 7));
    await t.settle();
    expect(t.answer()).toMatchObject({ content: 'Hel', status: 'streaming' });
    t.server.write(sse('delta', { seq: 2, text: 'lo' }).slice(7));
    t.server.write(sse('completed', { message: { ...result.assistantMessage, content: 'Hello', status: 'complete', version: 5 } }));
    t.server.end();
    await t.settle();
    expect(t.answer()).toMatchObject({ content: 'Hello', status: 'complete' });
    expect(t.transport.counts().liveResponses).toBe(0);
    expect(t.api.pending).toBe(0);
  });

  it('an answer cut off without a final event shows as interrupted and re-reads the stored message', async () => {
    const t = setup();
    const sending = t.transport.send(T, 'Hi', 'local-1', {});
    t.server.write(sse('started', result) + sse('delta', { seq: 1, text: 'Hel' }));
    await sending;
    t.server.end();
    await t.settle();
    expect(t.answer()).toMatchObject({ content: 'Hel', status: 'failed', error: { code: 'interrupted' } });
    expect(t.refreshed).toEqual([T]);
  });

  it('close() drops the response: the answer shows as cancelled with its partial text', async () => {
    const t = setup();
    const sending = t.transport.send(T, 'Hi', 'local-1', {});
    t.server.write(sse('started', result) + sse('delta', { seq: 1, text: 'Hel' }));
    await sending;
    await t.settle();
    t.transport.close();
    await t.settle();
    expect(t.answer()).toMatchObject({ content: 'Hel', status: 'cancelled' });
    expect(t.refreshed).toEqual([]);
    expect(t.transport.counts().liveResponses).toBe(0);
  });

  it('a response that ends before `started` rejects the send', async () => {
    const t = setup();
    const sending = t.transport.send(T, 'Hi', 'local-1', {});
    t.server.end();
    await expect(sending).rejects.toMatchObject({ code: 'protocol' });
  });
});
