import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { SessionExpiredEvent } from '@bgs/shared';
import { TEST_AUTH_SECRET } from '../support/env';
import { httpClient, type HttpAnswer } from '../support/http';
import { connectSocket, openThread, type TestSocket } from '../support/sockets';
import { TestSystem } from '../support/system';

/** docs/protocol.md#auth: a socket lives no longer than its token; dev tokens of a chosen lifetime. */
describe('token expiry', () => {
  let system: TestSystem;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    system = await TestSystem.start({ workers: 0 });
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.disconnect();
  });
  afterAll(async () => {
    await system?.stop();
  });

  const anonymous = () => httpClient(system.url());
  const claims = (token: string) => jwt.decode(token) as { sub: string; iat: number; exp?: number };

  async function devToken(userId: string, expiresInS?: number): Promise<string> {
    const res = await anonymous().post('/api/dev/token', expiresInS === undefined ? { userId } : { userId, expiresInS });
    expect(res.status).toBe(200);
    return res.body.token as string;
  }

  async function connect(token: string): Promise<TestSocket> {
    const socket = await connectSocket(system.url(), token);
    sockets.push(socket);
    return socket;
  }

  it('a socket gets session.expired when its token expires, then the server disconnects it; a fresh token connects again', async () => {
    const userId = `expiring-${randomUUID().slice(0, 8)}`;
    const token = await devToken(userId, 2);
    const { exp, iat } = claims(token);
    expect(exp! - iat).toBe(2);
    const expiresAtMs = exp! * 1000;

    const short = await connect(token);
    // Another tab of the same user, with a token that never expires: no timer, it stays.
    const lasting = await connect(jwt.sign({ sub: userId }, TEST_AUTH_SECRET, { algorithm: 'HS256' }));

    const seen: Array<{ what: string; at: number; payload?: SessionExpiredEvent }> = [];
    short.on('session.expired', (payload) => seen.push({ what: 'session.expired', at: Date.now(), payload }));
    const disconnected = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no disconnect within 10 s; seen ${JSON.stringify(seen)}`)), 10_000);
      short.once('disconnect', (reason) => {
        clearTimeout(timer);
        seen.push({ what: `disconnect: ${reason}`, at: Date.now() });
        resolve(reason);
      });
    });
    expect(await disconnected).toBe('io server disconnect');

    expect(seen.map((s) => s.what)).toEqual(['session.expired', 'disconnect: io server disconnect']);
    expect(seen[0].payload).toEqual({ reason: 'token_expired', expiredAt: new Date(expiresAtMs).toISOString() });
    // Not before the token expired, and within 5 s of it.
    expect(seen[0].at).toBeGreaterThanOrEqual(expiresAtMs);
    expect(seen[0].at).toBeLessThanOrEqual(expiresAtMs + 5_000);
    // A server disconnect: the client does not reconnect on its own with the dead token.
    expect(short.active).toBe(false);

    // The other tab is still served.
    expect(lasting.connected).toBe(true);
    expect(await openThread(lasting, randomUUID())).toEqual({ ok: false, error: expect.objectContaining({ code: 'not_found' }) });

    // The expired token is refused at connect, as before; a fresh one works.
    await expect(connectSocket(system.url(), token)).rejects.toThrow('unauthorized');
    const again = await connect(await devToken(userId, 60));
    expect(again.connected).toBe(true);
    expect(await openThread(again, randomUUID())).toEqual({ ok: false, error: expect.objectContaining({ code: 'not_found' }) });
  });

  describe('POST /api/dev/token expiresInS', () => {
    it('signs the token for that many seconds (1 to 86400), and for 24 hours without it', async () => {
      for (const expiresInS of [1, 90, 86_400]) {
        const { exp, iat } = claims(await devToken('lifetime', expiresInS));
        expect({ expiresInS, lifetime: exp! - iat }).toEqual({ expiresInS, lifetime: expiresInS });
      }
      const { exp, iat } = claims(await devToken('lifetime'));
      expect(exp! - iat).toBe(24 * 3600);
    });

    it.each<[string, unknown]>([
      ['0', 0],
      ['86401', 86_401],
      ["'x'", 'x'],
      ['a fraction', 1.5],
      ['a negative number', -5],
      ['null', null],
      ['a numeric string', '60'],
    ])('refuses expiresInS %s with 400 invalid_request naming the field', async (_name, expiresInS) => {
      const res: HttpAnswer = await anonymous().post('/api/dev/token', { userId: 'alice', expiresInS });
      expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status: 400, code: 'invalid_request' });
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.body.error.details).toEqual([expect.objectContaining({ path: 'expiresInS' })]);
      expect(res.body.token).toBeUndefined();
    });
  });
});
