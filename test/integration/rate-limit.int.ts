import { randomBytes } from 'node:crypto';
import type { SendMessageResult } from '@bgs/shared';
import type { HttpAnswer, HttpClient } from '../support/http';
import { TestSystem } from '../support/system';

const LIMIT = 3;
const WINDOW_MS = 6_000;

/** One user as seen through each API instance. */
interface User {
  id: string;
  via: [HttpClient, HttpClient];
}

/**
 * docs/protocol.md#errors: sends are limited per user, in Redis, so the limit holds
 * across API instances; a refusal is 429 `rate_limited` with Retry-After, and a client
 * that waits that long is served again.
 */
describe('send rate limit', () => {
  let system: TestSystem;

  beforeAll(async () => {
    system = await TestSystem.start({ apis: 2, workers: 1, env: { RATE_LIMIT_SENDS: String(LIMIT), RATE_LIMIT_WINDOW_MS: String(WINDOW_MS), FRAME_MS: '20' } });
  });
  afterAll(async () => {
    await system?.stop();
  });

  /** A user with a thread per send to come (a thread takes one answer at a time), both instances warmed up. */
  async function newUser(name: string, threads: number): Promise<User & { threads: string[] }> {
    const id = `${name}-${randomBytes(3).toString('hex')}`;
    const via: [HttpClient, HttpClient] = [await system.client(id, 0), await system.client(id, 1)];
    const created = await Promise.all(Array.from({ length: threads }, (_, i) => via[i % 2].post('/api/threads', { title: `Thread ${i}` })));
    expect(created.map((r) => r.status)).toEqual(created.map(() => 201));
    expect((await via[1].get('/api/threads')).status).toBe(200);
    return { id, via, threads: created.map((r) => r.body.id as string) };
  }

  const send = (api: HttpClient, threadId: string, headers: Record<string, string> = {}) =>
    api.post<SendMessageResult>(`/api/threads/${threadId}/messages`, { content: 'Quick one [sim tokens=1 rate=1000]' }, headers);

  /** A 429 as docs/protocol.md#errors has it; returns Retry-After in seconds. */
  function expectRateLimited(res: HttpAnswer): number {
    expect({ status: res.status, code: res.body?.error?.code, details: res.body?.error?.details }).toEqual({ status: 429, code: 'rate_limited', details: { limit: LIMIT } });
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const retryAfter = res.headers.get('retry-after') ?? '';
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeLessThanOrEqual(WINDOW_MS / 1000);
    return Number(retryAfter);
  }

  it('sends alternating between two API instances share one limit: the next one is 429 with Retry-After, and after that long sends are accepted again', async () => {
    const user = await newUser('alternating', LIMIT + 2);
    const [t0, t1, t2, t3, t4] = user.threads;

    for (const [i, threadId] of [t0, t1, t2].entries()) expect((await send(user.via[i % 2], threadId)).status).toBe(202);
    const refused = await send(user.via[1], t3);
    const retryAfter = expectRateLimited(refused);
    expectRateLimited(await send(user.via[0], t3));
    // A refused send stores nothing and starts nothing.
    expect((await user.via[0].get(`/api/threads/${t3}/messages`)).body.items).toEqual([]);
    expect((await user.via[1].get(`/api/threads/${t3}`)).body.activeStreamId).toBeNull();

    // Retry-After is a promise about time: a client that waits exactly that long is served.
    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
    expect((await send(user.via[0], t3)).status).toBe(202);
    expect((await send(user.via[1], t4)).status).toBe(202);
    expect((await user.via[0].get(`/api/threads/${t3}/messages`)).body.items).toHaveLength(2);
  });

  it('an idempotent replay is not counted, and is answered even once the user is limited', async () => {
    const user = await newUser('replay', LIMIT + 1);
    const [first, ...rest] = user.threads;
    const key = `replay-${randomBytes(4).toString('hex')}`;
    const original = await send(user.via[0], first, { 'idempotency-key': key });
    expect(original.status).toBe(202);

    // More replays than the limit, on both instances: each gets the first answer.
    for (let i = 0; i < LIMIT + 1; i++) {
      const replay = await send(user.via[(i + 1) % 2], first, { 'idempotency-key': key });
      expect({ status: replay.status, streamId: replay.body.stream.id }).toEqual({ status: 202, streamId: original.body.stream.id });
    }
    // So the limit still has room for LIMIT - 1 new sends.
    for (const [i, threadId] of rest.slice(0, LIMIT - 1).entries()) expect((await send(user.via[i % 2], threadId)).status).toBe(202);
    expectRateLimited(await send(user.via[1], rest[LIMIT - 1]));

    const late = await send(user.via[1], first, { 'idempotency-key': key });
    expect({ status: late.status, userMessage: late.body.userMessage }).toEqual({ status: 202, userMessage: original.body.userMessage });
    expect((await user.via[0].get(`/api/threads/${first}/messages`)).body.items).toHaveLength(2);
  });

  it('another user is not affected by a limited one', async () => {
    const limited = await newUser('limited', LIMIT + 1);
    const other = await newUser('other', 2);
    for (const [i, threadId] of limited.threads.slice(0, LIMIT).entries()) expect((await send(limited.via[i % 2], threadId)).status).toBe(202);
    expectRateLimited(await send(limited.via[0], limited.threads[LIMIT]));

    expect((await send(other.via[0], other.threads[0])).status).toBe(202);
    expect((await send(other.via[1], other.threads[1])).status).toBe(202);
    expectRateLimited(await send(limited.via[1], limited.threads[LIMIT]));
  });

  it('a burst of concurrent sends across both instances admits exactly the limit', async () => {
    const burst = LIMIT + 5;
    const user = await newUser('burst', burst);
    const answers = await Promise.all(user.threads.map((threadId, i) => send(user.via[i % 2], threadId)));
    const accepted = answers.filter((a) => a.status === 202);
    const refused = answers.filter((a) => a.status !== 202);
    expect(accepted).toHaveLength(LIMIT);
    for (const res of refused) expectRateLimited(res);
    // Exactly the accepted sends left messages.
    const withMessages = await Promise.all(user.threads.map(async (t) => (await user.via[0].get(`/api/threads/${t}/messages`)).body.items.length > 0));
    expect(withMessages.filter(Boolean)).toHaveLength(LIMIT);
  });
});
