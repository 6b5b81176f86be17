import { randomBytes, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { io } from 'socket.io-client';
import type { Notification, SendMessageResult, Thread } from '@bgs/shared';
import { TEST_AUTH_SECRET } from '../support/env';
import { eventually, httpClient, type HttpAnswer, type HttpClient } from '../support/http';
import { closeThread, connectSocket, nextEvent, openThread, type TestSocket } from '../support/sockets';
import { TestSystem } from '../support/system';

interface User {
  id: string;
  api: HttpClient & { token: string };
}

/** What a client is told for one request: enough to tell two answers apart. */
const answerOf = (res: HttpAnswer) => ({ status: res.status, contentType: res.headers.get('content-type'), body: res.body });

const now = () => Math.floor(Date.now() / 1000);
const b64json = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

/** Tokens the API must refuse, each made for the user it claims to be. */
const REFUSED_TOKENS: Array<[string, (userId: string) => string | undefined]> = [
  ['no token', () => undefined],
  ['an expired token', (sub) => jwt.sign({ sub, exp: now() - 60 }, TEST_AUTH_SECRET, { algorithm: 'HS256' })],
  ['a malformed token', () => 'not.a.jwt'],
  ['a token that is not a JWT at all', () => 'garbage'],
  ['a token signed with another secret', (sub) => jwt.sign({ sub }, 'another-secret-with-enough-length', { algorithm: 'HS256' })],
  ['an unsigned (alg none) token', (sub) => `${b64json({ alg: 'none', typ: 'JWT' })}.${b64json({ sub, exp: now() + 600 })}.`],
  [
    'a token whose payload was swapped',
    (sub) => {
      const [header, , signature] = jwt.sign({ sub }, TEST_AUTH_SECRET, { algorithm: 'HS256', expiresIn: 600 }).split('.');
      return `${header}.${b64json({ sub: `${sub}x`, exp: now() + 600 })}.${signature}`;
    },
  ],
  ['a token without a user id', (sub) => jwt.sign({ name: sub }, TEST_AUTH_SECRET, { algorithm: 'HS256' })],
];

/** Resolves with the connect_error message, or 'connected'. */
function socketVerdict(baseUrl: string, auth: Record<string, unknown>): Promise<string> {
  const socket = io(baseUrl, { auth, transports: ['websocket'], reconnection: false, forceNew: true });
  return new Promise<string>((resolve) => {
    socket.once('connect', () => resolve('connected'));
    socket.once('connect_error', (err) => resolve(err.message));
  }).finally(() => socket.disconnect());
}

/**
 * docs/protocol.md#auth: another user's thread, message, stream or notification is
 * answered exactly like a missing one, on every REST route and on the socket; bad tokens
 * are refused everywhere; dev tokens never exist in production.
 */
describe('access control', () => {
  let system: TestSystem;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    system = await TestSystem.start({ apis: 2, workers: 1, env: { FRAME_MS: '20', RATE_LIMIT_SENDS: '1000' } });
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.disconnect();
  });
  afterAll(async () => {
    await system?.stop();
  });

  async function newUser(name: string): Promise<User> {
    const id = `${name}-${randomBytes(3).toString('hex')}`;
    return { id, api: await system.client(id) };
  }

  async function socketOf(user: User, api = 0): Promise<TestSocket> {
    const socket = await connectSocket(system.url(api), user.api.token);
    sockets.push(socket);
    return socket;
  }

  async function newThread(user: User, title: string): Promise<string> {
    const res = await user.api.post<Thread>('/api/threads', { title });
    expect(res.status).toBe(201);
    return res.body.id;
  }

  async function send(user: User, threadId: string, content: string, headers: Record<string, string> = {}): Promise<SendMessageResult> {
    const res = await user.api.post<SendMessageResult>(`/api/threads/${threadId}/messages`, { content }, headers);
    expect(res.status).toBe(202);
    return res.body;
  }

  describe('REST: every route answers for another user’s resource exactly as for a missing id', () => {
    let alice: User;
    let bob: User;
    let privateThread: string;
    let busyThread: string;
    let bobThread: string;
    let completed: SendMessageResult;
    let running: SendMessageResult;
    let notification: Notification;
    const idempotencyKey = `alice-key-${randomUUID()}`;
    /** Alice's data as she sees it before Bob tries anything. */
    let aliceBefore: { thread: Thread; messages: unknown; notifications: unknown };

    beforeAll(async () => {
      [alice, bob] = [await newUser('alice'), await newUser('bob')];
      const inbox = await socketOf(alice);
      privateThread = await newThread(alice, 'Private');
      busyThread = await newThread(alice, 'Busy');
      bobThread = await newThread(bob, 'Bob’s own');

      // A finished answer (nobody looking, so it notifies), and one that keeps running.
      const notified = nextEvent(inbox, 'notification.created', (n) => n.threadId === privateThread);
      completed = await send(alice, privateThread, 'A secret question [sim tokens=5 rate=1000]', { 'idempotency-key': idempotencyKey });
      notification = await notified;
      expect(notification.streamId).toBe(completed.stream.id);
      running = await send(alice, busyThread, 'Keep going [sim hang at=2]');
      await eventually(async () => ((await alice.api.get(`/api/streams/${running.stream.id}`)).body.seq >= 1 ? true : undefined), 'the running stream to produce');

      // The owner sees every one of these resources, so a 404 below is about who asks.
      expect((await alice.api.get(`/api/threads/${busyThread}`)).body.activeStreamId).toBe(running.stream.id);
      expect((await alice.api.get(`/api/streams/${completed.stream.id}`)).body.status).toBe('completed');
      aliceBefore = {
        thread: (await alice.api.get(`/api/threads/${privateThread}`)).body,
        messages: (await alice.api.get(`/api/threads/${privateThread}/messages`)).body,
        notifications: (await alice.api.get('/api/notifications')).body,
      };
      expect(aliceBefore.thread.title).toBe('Private');
      expect((aliceBefore.messages as { items: unknown[] }).items).toHaveLength(2);
      expect((aliceBefore.notifications as { items: Notification[] }).items).toEqual([notification]);
    });

    afterAll(async () => {
      // The owner can cancel what Bob could not (and it stops the hanging generation).
      if (running) expect((await alice.api.post(`/api/streams/${running.stream.id}/cancel`)).status).toBe(202);
    });

    type Case = [route: string, call: (id: string) => Promise<HttpAnswer>, theirs: () => string, status: number, code: string];
    const cases: Case[] = [
      ['GET /api/threads/:threadId', (id) => bob.api.get(`/api/threads/${id}`), () => privateThread, 404, 'not_found'],
      ['PATCH /api/threads/:threadId', (id) => bob.api.patch(`/api/threads/${id}`, { title: 'Hijacked', muted: true }), () => privateThread, 404, 'not_found'],
      ['DELETE /api/threads/:threadId (its answer streaming)', (id) => bob.api.delete(`/api/threads/${id}`), () => busyThread, 404, 'not_found'],
      ['GET /api/threads/:threadId/messages', (id) => bob.api.get(`/api/threads/${id}/messages`), () => privateThread, 404, 'not_found'],
      [
        'GET /api/threads/:threadId/messages?before= (their thread, their message)',
        (id) => bob.api.get(`/api/threads/${id}/messages?before=${completed.userMessage.id}`),
        () => privateThread,
        404,
        'not_found',
      ],
      [
        'GET /api/threads/:threadId/messages?before= (own thread, their message)',
        (id) => bob.api.get(`/api/threads/${bobThread}/messages?before=${id}`),
        () => completed.assistantMessage.id,
        400,
        'invalid_request',
      ],
      ['POST /api/threads/:threadId/messages', (id) => bob.api.post(`/api/threads/${id}/messages`, { content: 'Me too [sim tokens=1]' }), () => privateThread, 404, 'not_found'],
      [
        'POST /api/threads/:threadId/messages replaying their Idempotency-Key',
        (id) => bob.api.post(`/api/threads/${id}/messages`, { content: 'A secret question [sim tokens=5 rate=1000]' }, { 'idempotency-key': idempotencyKey }),
        () => privateThread,
        404,
        'not_found',
      ],
      ['GET /api/streams/:streamId (ended)', (id) => bob.api.get(`/api/streams/${id}`), () => completed.stream.id, 404, 'not_found'],
      ['GET /api/streams/:streamId (running)', (id) => bob.api.get(`/api/streams/${id}`), () => running.stream.id, 404, 'not_found'],
      ['POST /api/streams/:streamId/cancel (running)', (id) => bob.api.post(`/api/streams/${id}/cancel`), () => running.stream.id, 404, 'not_found'],
      ['POST /api/streams/:streamId/cancel (ended)', (id) => bob.api.post(`/api/streams/${id}/cancel`), () => completed.stream.id, 404, 'not_found'],
      ['POST /api/notifications/:notificationId/read', (id) => bob.api.post(`/api/notifications/${id}/read`), () => notification.id, 404, 'not_found'],
    ];

    it.each(cases)('%s', async (_route, call, theirs, status, code) => {
      const missing = randomUUID();
      const [forTheirs, forMissing] = [answerOf(await call(theirs())), answerOf(await call(missing))];
      expect(forTheirs).toEqual(forMissing);
      expect({ status: forTheirs.status, code: forTheirs.body?.error?.code, json: forTheirs.contentType }).toEqual({ status, code, json: 'application/json; charset=utf-8' });
    });

    it('lists show none of their threads or notifications, and read-all leaves theirs unread', async () => {
      expect((await bob.api.get('/api/threads')).body.items.map((t: Thread) => t.id)).toEqual([bobThread]);
      for (const query of ['', '?unread=true', '?unread=false']) {
        expect((await bob.api.get(`/api/notifications${query}`)).body).toEqual({ items: [], nextCursor: null });
      }
      expect((await bob.api.post('/api/notifications/read-all')).status).toBe(204);
      // Their own cursor, handed to Bob, pages Bob's (empty) list, not theirs.
      const aliceThreads = await alice.api.get('/api/threads?limit=1');
      expect(aliceThreads.body.nextCursor).toEqual(expect.any(String));
      expect((await bob.api.get(`/api/threads?cursor=${aliceThreads.body.nextCursor}`)).body.items.map((t: Thread) => t.id)).not.toContain(privateThread);
    });

    it('replaying their Idempotency-Key on an own thread starts an own turn, not theirs', async () => {
      const mine = await send(bob, bobThread, 'Bob asks [sim tokens=2 rate=1000]', { 'idempotency-key': idempotencyKey });
      expect(mine.userMessage).toEqual(expect.objectContaining({ threadId: bobThread, content: 'Bob asks [sim tokens=2 rate=1000]' }));
      expect(mine.stream.id).not.toBe(completed.stream.id);
    });

    it('after all of that, the owner’s data is exactly as it was and the running answer still runs', async () => {
      expect((await alice.api.get(`/api/threads/${privateThread}`)).body).toEqual(aliceBefore.thread);
      expect((await alice.api.get(`/api/threads/${privateThread}/messages`)).body).toEqual(aliceBefore.messages);
      expect((await alice.api.get('/api/notifications')).body).toEqual(aliceBefore.notifications);
      expect((await alice.api.get(`/api/threads/${busyThread}`)).body.activeStreamId).toBe(running.stream.id);
      const stream = (await alice.api.get(`/api/streams/${running.stream.id}`)).body;
      expect(stream.status).toBe('streaming');
    });
  });

  describe('sockets: another user’s thread cannot be joined, and its events never arrive', () => {
    it('Bob’s thread.open of Alice’s thread is not_found; over Alice’s generation and notification his sockets receive nothing of hers', async () => {
      const [alice, bob] = [await newUser('alice'), await newUser('bob')];
      const watched = await newThread(alice, 'Watched');
      const quiet = await newThread(alice, 'Quiet');
      const mine = await newThread(bob, 'Bob’s own');
      const aliceSocket = await socketOf(alice, 0);
      expect((await openThread(aliceSocket, watched)).ok).toBe(true);

      // Bob listens on both API instances (the Redis adapter spans them) and records everything.
      const bobSockets = [await socketOf(bob, 0), await socketOf(bob, 1)];
      const heard: Array<{ socket: number; event: string; payload: { threadId?: string; streamId?: string } }> = [];
      bobSockets.forEach((s, i) => s.onAny((event: string, payload) => heard.push({ socket: i, event, payload })));

      for (const socket of bobSockets) {
        const missing = randomUUID();
        for (const theirs of [watched, quiet]) {
          const [forTheirs, forMissing] = [await openThread(socket, theirs), await openThread(socket, missing)];
          expect(forTheirs).toEqual(forMissing);
          expect(forTheirs).toEqual({ ok: false, error: { code: 'not_found', message: 'thread not found' } });
        }
        // Closing is idempotent and answers alike; it must not close Alice's view of the thread.
        expect(await closeThread(socket, watched)).toEqual(await closeThread(socket, missing));
      }

      // 1. Alice watches a whole generation: she gets its frames; the thread stays open for her.
      const deltas: number[] = [];
      aliceSocket.on('stream.delta', (e) => void deltas.push(e.seq));
      const first = nextEvent(aliceSocket, 'stream.completed', (e) => e.threadId === watched);
      const watchedTurn = await send(alice, watched, 'Tell me a story [sim tokens=30 rate=300]');
      expect((await first).streamId).toBe(watchedTurn.stream.id);
      expect(deltas.length).toBeGreaterThan(0);
      const decided = await system.workers[0].waitForLog((l) => l.msg === 'notification decided' && l.streamId === watchedTurn.stream.id, 15_000, 'the watched stream’s decision');
      expect(decided).toEqual(expect.objectContaining({ threadOpen: true, decision: 'skipped_open' }));

      // 2. A generation nobody watches: Alice is notified in her user room.
      const notified = nextEvent(aliceSocket, 'notification.created', (n) => n.threadId === quiet);
      const quietTurn = await send(alice, quiet, 'Summarise later [sim tokens=5 rate=1000]');
      expect((await notified).streamId).toBe(quietTurn.stream.id);

      // 3. Bob's own generation, started after all of Alice's events were delivered, reaches
      // both of his sockets: they were listening all along, so anything of Alice's routed to
      // them would have arrived before it.
      for (const socket of bobSockets) expect((await openThread(socket, mine)).ok).toBe(true);
      const bobDone = bobSockets.map((s) => nextEvent(s, 'stream.completed', (e) => e.threadId === mine));
      const bobTurn = await send(bob, mine, 'My turn [sim tokens=5 rate=1000]');
      await Promise.all(bobDone);

      expect(heard.filter((h) => h.payload?.threadId !== mine || h.payload?.streamId !== bobTurn.stream.id)).toEqual([]);
      expect(heard.filter((h) => h.event === 'stream.completed')).toHaveLength(2);
      expect((await bob.api.get('/api/notifications')).body.items).toEqual([]);
      expect((await alice.api.get('/api/notifications')).body.items.map((n: Notification) => n.streamId)).toEqual([quietTurn.stream.id]);
    });
  });

  describe('tokens', () => {
    let alice: User;
    let threadId: string;

    beforeAll(async () => {
      alice = await newUser('alice');
      threadId = await newThread(alice, 'Mine');
    });

    /** Every authenticated route, called with alice's ids so a bypass would reach her data. */
    const routes = (): Array<[string, (api: HttpClient) => Promise<HttpAnswer>]> => [
      ['GET /api/threads', (api) => api.get('/api/threads')],
      ['POST /api/threads', (api) => api.post('/api/threads', { title: 'x' })],
      ['GET /api/threads/:threadId', (api) => api.get(`/api/threads/${threadId}`)],
      ['PATCH /api/threads/:threadId', (api) => api.patch(`/api/threads/${threadId}`, { title: 'x' })],
      ['DELETE /api/threads/:threadId', (api) => api.delete(`/api/threads/${threadId}`)],
      ['GET /api/threads/:threadId/messages', (api) => api.get(`/api/threads/${threadId}/messages`)],
      ['POST /api/threads/:threadId/messages', (api) => api.post(`/api/threads/${threadId}/messages`, { content: 'hi [sim tokens=1]' })],
      ['GET /api/streams/:streamId', (api) => api.get(`/api/streams/${randomUUID()}`)],
      ['POST /api/streams/:streamId/cancel', (api) => api.post(`/api/streams/${randomUUID()}/cancel`)],
      ['GET /api/notifications', (api) => api.get('/api/notifications')],
      ['POST /api/notifications/:notificationId/read', (api) => api.post(`/api/notifications/${randomUUID()}/read`)],
      ['POST /api/notifications/read-all', (api) => api.post('/api/notifications/read-all')],
    ];

    it.each(REFUSED_TOKENS)(
      '%s is 401 unauthorized JSON on every REST route, and fails the socket with connect_error "unauthorized"',
      async (_name, tokenFor) => {
        const token = tokenFor(alice.id);
        const api = httpClient(system.url(), token);
        for (const [route, call] of routes()) {
          const res = await call(api);
          expect({ route, status: res.status, code: res.body?.error?.code, json: res.headers.get('content-type') }).toEqual({
            route,
            status: 401,
            code: 'unauthorized',
            json: 'application/json; charset=utf-8',
          });
        }
        for (const url of [system.url(0), system.url(1)]) {
          expect(await socketVerdict(url, token === undefined ? {} : { token })).toBe('unauthorized');
        }
        // Her thread is untouched and still hers alone.
        expect((await alice.api.get('/api/threads')).body.items.map((t: Thread) => ({ id: t.id, title: t.title }))).toEqual([{ id: threadId, title: 'Mine' }]);
      },
    );

    it.each<[string, Record<string, unknown>]>([
      ['a number', { token: 42 }],
      ['an object', { token: { sub: 'alice' } }],
      ['the token under another key', { authorization: 'Bearer x' }],
    ])('a socket handshake with %s as its token is refused with "unauthorized"', async (_name, auth) => {
      expect(await socketVerdict(system.url(), auth)).toBe('unauthorized');
    });

    it('a new user’s first requests, all at once on both instances and the socket, are all served', async () => {
      // A chat app's first page load: the user row is created on first sight, by whichever request wins.
      const userId = `first-sight-${randomBytes(3).toString('hex')}`;
      const token = jwt.sign({ sub: userId }, TEST_AUTH_SECRET, { algorithm: 'HS256', expiresIn: 60 });
      const [a, b] = [httpClient(system.url(0), token), httpClient(system.url(1), token)];
      const answers = await Promise.all([
        ...[a, b].flatMap((api) => [api.get('/api/threads'), api.get('/api/notifications?unread=true'), api.post('/api/threads', { title: 'Hello' })]),
        ...[0, 1].map((i) => socketVerdict(system.url(i), { token })),
      ]);
      expect(answers.map((x) => (typeof x === 'string' ? x : x.status))).toEqual([200, 200, 201, 200, 200, 201, 'connected', 'connected']);
      expect((await a.get('/api/threads')).body.items).toHaveLength(2);
    });

    it('a valid token is accepted on both (the refusals above are about the token)', async () => {
      const token = jwt.sign({ sub: alice.id }, TEST_AUTH_SECRET, { algorithm: 'HS256', expiresIn: 60 });
      expect((await httpClient(system.url(), token).get('/api/threads')).status).toBe(200);
      expect(await socketVerdict(system.url(1), { token })).toBe('connected');
    });
  });

  describe('dev tokens in production', () => {
    it('a system started with NODE_ENV=production and AUTH_DEV_TOKENS=1 refuses to start, naming AUTH_DEV_TOKENS', async () => {
      await expect(TestSystem.start({ apis: 1, workers: 1, env: { NODE_ENV: 'production', AUTH_DEV_TOKENS: '1' } })).rejects.toThrow(
        /exited \(1\) before [\s\S]*AUTH_DEV_TOKENS must be off when NODE_ENV=production/,
      );
    });

    it('with NODE_ENV=production and dev tokens left unset, /api/dev/token issues nothing while real tokens work', async () => {
      const production = await TestSystem.start({ apis: 1, workers: 0, env: { NODE_ENV: 'production', AUTH_DEV_TOKENS: '' } });
      try {
        const url = production.url();
        const userId = `prod-${randomBytes(3).toString('hex')}`;
        const token = jwt.sign({ sub: userId }, TEST_AUTH_SECRET, { algorithm: 'HS256', expiresIn: 60 });

        const anonymous = await httpClient(url).post('/api/dev/token', { userId });
        expect({ status: anonymous.status, code: anonymous.body?.error?.code, token: anonymous.body?.token }).toEqual({ status: 401, code: 'unauthorized', token: undefined });
        const signedIn = await httpClient(url, token).post('/api/dev/token', { userId: 'someone-else' });
        expect({ status: signedIn.status, code: signedIn.body?.error?.code, token: signedIn.body?.token }).toEqual({ status: 404, code: 'not_found', token: undefined });
        expect(Object.keys((await httpClient(url).get('/api/openapi.json')).body.paths)).not.toContain('/api/dev/token');

        expect((await httpClient(url, token).post('/api/threads', { title: 'Real token' })).status).toBe(201);
        expect(await socketVerdict(url, { token })).toBe('connected');
      } finally {
        await production.stop();
      }
    });
  });
});
