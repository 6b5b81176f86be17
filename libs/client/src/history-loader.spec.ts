import type { Message } from '@bgs/shared/browser';
import { HistoryLoader } from './history-loader';
import { ChatApiError, HttpApi } from './http-api';
import { ThreadStore } from './thread-store';

const T = 'thread-1';
const message: Message = { id: 'u1', threadId: T, role: 'user', content: 'Hi', status: 'complete', version: 0, createdAt: '2026-01-01T00:00:00.000Z' };

function setup(answers: Array<Error | Message[]>, viewed = true) {
  const store = new ThreadStore(() => () => undefined, () => undefined);
  store.ensure(T);
  const api = new HttpApi({ baseUrl: 'http://api.test', token: 't' });
  let reads = 0;
  api.listMessages = async () => {
    reads++;
    const next = answers.shift();
    if (!next) throw new Error('no answer scripted');
    if (next instanceof Error) throw next;
    return { items: next };
  };
  const loaded: string[] = [];
  const loader = new HistoryLoader(api, store, { limit: 50, retryDelays: { minMs: 1_000, maxMs: 8_000 }, viewed: () => viewed, loaded: (id) => void loaded.push(id) });
  return { store, loader, loaded, reads: () => reads };
}

describe('HistoryLoader', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('a read that fails for now (503, no answer) shows as retrying and is read again after a backoff', async () => {
    const t = setup([new ChatApiError('unavailable', 'HTTP 503', 503), new ChatApiError('network', 'fetch failed', 0), [message]]);
    await t.loader.load(T);
    expect(t.store.view(T)).toMatchObject({ status: 'retrying', problem: { code: 'unavailable' }, error: null, loaded: false });
    expect(t.loader.timers).toBe(1);
    await jest.advanceTimersByTimeAsync(1_250);
    expect(t.reads()).toBe(2);
    expect(t.store.view(T)).toMatchObject({ status: 'retrying', problem: { code: 'network' } });
    await jest.advanceTimersByTimeAsync(2_500);
    expect(t.reads()).toBe(3);
    expect(t.store.view(T)).toMatchObject({ loaded: true, problem: null, error: null });
    expect(t.loaded).toEqual([T]);
    expect(t.loader.timers).toBe(0);
  });

  it('a refusal (404) is the thread’s error, not retried', async () => {
    const t = setup([new ChatApiError('not_found', 'thread not found', 404)]);
    await t.loader.load(T);
    expect(t.store.view(T)).toMatchObject({ status: 'error', error: { code: 'not_found' } });
    expect(t.loader.timers).toBe(0);
  });

  it('retries only while the thread is viewed; cancel stops a pending retry', async () => {
    const unviewed = setup([new ChatApiError('unavailable', 'HTTP 503', 503)], false);
    await unviewed.loader.load(T);
    expect(unviewed.loader.timers).toBe(0);
    const viewed = setup([new ChatApiError('unavailable', 'HTTP 503', 503)]);
    await viewed.loader.load(T);
    viewed.loader.cancel(T);
    await jest.advanceTimersByTimeAsync(20_000);
    expect(viewed.reads()).toBe(1);
  });
});
