import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import jwt from 'jsonwebtoken';
import { Client } from 'pg';
import type { ErrorCode, Notification, SendMessageResult } from '@bgs/shared';
import { TEST_AUTH_SECRET } from '../support/env';
import { eventually, type HttpClient } from '../support/http';
import { connectSocket, nextEvent, type TestSocket } from '../support/sockets';
import { TestSystem } from '../support/system';

/** Limits of this system (the defaults, spelled out so the rows can sit just past them). */
const MAX_BODY_BYTES = 64 * 1024;
const MAX_MESSAGE_CHARS = 32_000;

type Category =
  | 'bad JSON'
  | 'wrong types'
  | 'unstorable text'
  | 'huge'
  | 'unknown fields'
  | 'bad ids'
  | 'unknown routes'
  | 'bad cursors'
  | 'bad query'
  | 'bad headers'
  | 'malformed HTTP';

/** What a client was told. */
interface Answer {
  status: number;
  contentType: string | null;
  body: any;
}

/** The resources the rows aim at: the user's own, so a mistake would change them. */
interface Ctx {
  thread: string;
  stream: string;
  message: string;
  notification: string;
}

/** A request the API must refuse with `status` and `code`, changing nothing. */
type Row = [category: Category, name: string, send: (c: Ctx) => Promise<Answer>, status: number, code: ErrorCode];

const big = (chars: number) => 'x'.repeat(chars);
const b64 = (value: string) => Buffer.from(value).toString('base64url');
const cursorOf = (value: unknown) => b64(JSON.stringify(value));

/**
 * docs/protocol.md#errors: a table of malformed requests, each answered with a 4xx
 * JSON error carrying the documented code; afterwards the user's data is what it was,
 * and the API is still up with no unhandled error in its log.
 */
describe('bad input', () => {
  let system: TestSystem;
  let api: HttpClient & { token: string };
  let socket: TestSocket;
  let pg: Client;
  const ctx = {} as Ctx;
  let before: unknown;

  /** Any request, with the user's token unless headers replace it. A string body is sent as is, as JSON. */
  async function request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const res = await fetch(`${system.url()}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${api.token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : Buffer.isBuffer(body) ? new Uint8Array(body) : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* keep the text: the row fails and shows it */
    }
    return { status: res.status, contentType: res.headers.get('content-type'), body: parsed };
  }
  const get = (path: string, headers?: Record<string, string>) => request('GET', path, undefined, headers);
  const post = (path: string, body?: unknown, headers?: Record<string, string>) => request('POST', path, body, headers);
  const patch = (path: string, body?: unknown, headers?: Record<string, string>) => request('PATCH', path, body, headers);

  /**
   * Bytes on a raw TCP connection, for what fetch will not send (bad header bytes,
   * conflicting lengths, hand-made chunking). Resolves with the answer once the server closes.
   */
  function raw(head: (token: string) => string, body: Buffer | string = ''): Promise<Answer> {
    const { port } = new URL(system.url());
    return new Promise((resolve, reject) => {
      const conn = net.connect(Number(port), '127.0.0.1');
      const chunks: Buffer[] = [];
      const done = () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const [headText, ...rest] = text.split('\r\n\r\n');
        const [statusLine, ...headers] = headText.split('\r\n');
        const contentType = headers.find((h) => /^content-type:/i.test(h))?.replace(/^content-type:\s*/i, '') ?? null;
        let parsed: unknown = rest.join('\r\n\r\n');
        try {
          parsed = JSON.parse(parsed as string);
        } catch {
          /* keep the text */
        }
        resolve({ status: Number(statusLine.split(' ')[1] ?? 0), contentType, body: parsed });
      };
      conn.on('data', (c) => chunks.push(c));
      conn.on('end', done);
      // The server may answer and close before reading everything we send.
      conn.on('error', (err) => (chunks.length > 0 ? done() : reject(err)));
      conn.setTimeout(15_000, () => reject(new Error('raw request: no answer')));
      // Not end(): a half-closed connection makes Node abort the request before it is answered.
      conn.write(Buffer.concat([Buffer.from(head(api.token), 'latin1'), Buffer.isBuffer(body) ? body : Buffer.from(body)]));
    });
  }
  const rawHead = (requestLine: string, token: string, ...headers: string[]) =>
    [requestLine, 'Host: 127.0.0.1', `Authorization: Bearer ${token}`, 'Connection: close', ...headers, '', ''].join('\r\n');

  /** What the user sees of their data, plus every row of the tables the API writes. */
  async function snapshot() {
    const threads = (await api.get('/api/threads?limit=100')).body;
    const messages = await Promise.all(threads.items.map(async (t: { id: string }) => (await api.get(`/api/threads/${t.id}/messages?limit=200`)).body));
    const notifications = (await api.get('/api/notifications?limit=100')).body;
    const stream = (await api.get(`/api/streams/${ctx.stream}`)).body;
    const counts = (await pg.query(`SELECT (SELECT count(*) FROM threads) t, (SELECT count(*) FROM messages) m, (SELECT count(*) FROM streams) s, (SELECT count(*) FROM notifications) n, (SELECT count(*) FROM users) u`)).rows[0];
    return { threads, messages, notifications, stream, counts };
  }

  beforeAll(async () => {
    system = await TestSystem.start({ env: { FRAME_MS: '20', RATE_LIMIT_SENDS: '1000', MAX_BODY_BYTES: String(MAX_BODY_BYTES), MAX_MESSAGE_CHARS: String(MAX_MESSAGE_CHARS) } });
    pg = new Client({ connectionString: system.db.url });
    await pg.connect();
    api = await system.client(`bad-input-${randomUUID().slice(0, 8)}`);
    socket = await connectSocket(system.url(), api.token);

    // Data worth protecting: a thread with a finished answer, its notification, another thread.
    ctx.thread = (await api.post('/api/threads', { title: 'Keep me' })).body.id;
    expect((await api.post('/api/threads', { title: 'Me too' })).status).toBe(201);
    const notified = nextEvent(socket, 'notification.created', (n) => n.threadId === ctx.thread);
    const sent = await api.post<SendMessageResult>(`/api/threads/${ctx.thread}/messages`, { content: 'Remember this [sim tokens=6 rate=1000]' });
    expect(sent.status).toBe(202);
    const notification: Notification = await notified;
    Object.assign(ctx, { stream: sent.body.stream.id, message: sent.body.userMessage.id, notification: notification.id });
    await eventually(async () => ((await api.get(`/api/threads/${ctx.thread}`)).body.activeStreamId === null ? true : undefined), 'the answer to end');
    before = await snapshot();
  });
  afterAll(async () => {
    socket?.disconnect();
    await pg?.end();
    await system?.stop();
  });

  const validToken = () => jwt.sign({ sub: 'someone' }, TEST_AUTH_SECRET, { algorithm: 'HS256', expiresIn: 60 });
  const T = (c: Ctx) => `/api/threads/${c.thread}`;
  const M = (c: Ctx) => `/api/threads/${c.thread}/messages`;

  const rows: Row[] = [
    // ---- bad JSON ----
    ['bad JSON', 'unterminated string', () => post('/api/threads', '{"title": "unterminated'), 400, 'invalid_request'],
    ['bad JSON', 'trailing comma', () => post('/api/threads', '{"title": "x",}'), 400, 'invalid_request'],
    ['bad JSON', 'single quotes', () => post('/api/threads', "{'title': 'x'}"), 400, 'invalid_request'],
    ['bad JSON', 'unquoted key', () => post('/api/threads', '{title: "x"}'), 400, 'invalid_request'],
    ['bad JSON', 'NaN literal', () => post('/api/threads', '{"title": NaN}'), 400, 'invalid_request'],
    ['bad JSON', 'a comment', () => post('/api/threads', '/* note */ {}'), 400, 'invalid_request'],
    ['bad JSON', 'a bare string (strict JSON bodies are objects or arrays)', () => post('/api/threads', '"a title"'), 400, 'invalid_request'],
    ['bad JSON', 'a bare number', () => post('/api/threads', '42'), 400, 'invalid_request'],
    ['bad JSON', 'null', () => post('/api/threads', 'null'), 400, 'invalid_request'],
    ['bad JSON', 'true', () => post('/api/threads', 'true'), 400, 'invalid_request'],
    ['bad JSON', 'an array body', (c) => post(M(c), '[{"content":"hi"}]'), 400, 'invalid_request'],
    ['bad JSON', 'an invalid escape', (c) => post(M(c), '{"content": "a\\x"}'), 400, 'invalid_request'],
    ['bad JSON', 'two documents back to back', (c) => post(M(c), '{"content":"hi"}{"content":"again"}'), 400, 'invalid_request'],
    ['bad JSON', 'a lone brace on PATCH', (c) => patch(T(c), '{'), 400, 'invalid_request'],
    ['bad JSON', 'truncated dev-token body', () => post('/api/dev/token', '{"userId":'), 400, 'invalid_request'],
    ['bad JSON', 'arrays nested 30,000 deep', (c) => post(M(c), `${'['.repeat(30_000)}${']'.repeat(30_000)}`), 400, 'invalid_request'],
    ['bad JSON', 'objects nested 10,000 deep', (c) => post(M(c), `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`), 400, 'invalid_request'],
    ['bad JSON', 'an empty body on PATCH', (c) => patch(T(c), ''), 400, 'invalid_request'],
    ['bad JSON', 'gzip-encoded garbage', () => post('/api/threads', 'not gzip', { 'content-encoding': 'gzip' }), 400, 'invalid_request'],
    ['bad JSON', 'valid gzip of invalid JSON', () => post('/api/threads', gzipSync('{"title":'), { 'content-encoding': 'gzip' }), 400, 'invalid_request'],

    // ---- wrong types ----
    ['wrong types', 'title: number', () => post('/api/threads', { title: 42 }), 400, 'invalid_request'],
    ['wrong types', 'title: null', () => post('/api/threads', { title: null }), 400, 'invalid_request'],
    ['wrong types', 'title: array', () => post('/api/threads', { title: ['a'] }), 400, 'invalid_request'],
    ['wrong types', 'title: object', () => post('/api/threads', { title: { text: 'a' } }), 400, 'invalid_request'],
    ['wrong types', 'title: boolean', () => post('/api/threads', { title: true }), 400, 'invalid_request'],
    ['wrong types', 'PATCH muted: "true"', (c) => patch(T(c), { muted: 'true' }), 400, 'invalid_request'],
    ['wrong types', 'PATCH muted: 1', (c) => patch(T(c), { muted: 1 }), 400, 'invalid_request'],
    ['wrong types', 'PATCH muted: null', (c) => patch(T(c), { muted: null }), 400, 'invalid_request'],
    ['wrong types', 'PATCH title: number', (c) => patch(T(c), { title: 7 }), 400, 'invalid_request'],
    ['wrong types', 'PATCH title blank', (c) => patch(T(c), { title: '   ' }), 400, 'invalid_request'],
    ['wrong types', 'PATCH nothing to change', (c) => patch(T(c), {}), 400, 'invalid_request'],
    ['wrong types', 'content: number', (c) => post(M(c), { content: 42 }), 400, 'invalid_request'],
    ['wrong types', 'content: null', (c) => post(M(c), { content: null }), 400, 'invalid_request'],
    ['wrong types', 'content: array', (c) => post(M(c), { content: ['hi'] }), 400, 'invalid_request'],
    ['wrong types', 'content: object', (c) => post(M(c), { content: { text: 'hi' } }), 400, 'invalid_request'],
    ['wrong types', 'content missing', (c) => post(M(c), {}), 400, 'invalid_request'],
    ['wrong types', 'no body at all on send', (c) => post(M(c)), 400, 'invalid_request'],
    ['wrong types', 'content only whitespace', (c) => post(M(c), { content: ' \n\t ' }), 400, 'invalid_request'],
    ['wrong types', 'model: number', (c) => post(M(c), { content: 'hi', model: 42 }), 400, 'invalid_request'],
    ['wrong types', 'model: empty', (c) => post(M(c), { content: 'hi', model: '' }), 400, 'invalid_request'],
    ['wrong types', 'model with spaces and quotes', (c) => post(M(c), { content: 'hi', model: 'gpt "4" ; drop' }), 400, 'invalid_request'],
    ['wrong types', 'dev token userId: number', () => post('/api/dev/token', { userId: 42 }), 400, 'invalid_request'],
    ['wrong types', 'dev token userId: null', () => post('/api/dev/token', { userId: null }), 400, 'invalid_request'],

    // ---- text Postgres cannot store (was a 500 before api-types refused it) ----
    ['unstorable text', 'title with a NUL character', () => post('/api/threads', { title: 'a\u0000b' }), 400, 'invalid_request'],
    ['unstorable text', 'PATCH title with a NUL character', (c) => patch(T(c), { title: 'a\u0000b' }), 400, 'invalid_request'],
    ['unstorable text', 'content with a NUL character', (c) => post(M(c), { content: 'hi\u0000there [sim tokens=1]' }), 400, 'invalid_request'],

    // ---- huge ----
    ['huge', 'create-thread body over MAX_BODY_BYTES', () => post('/api/threads', { title: big(MAX_BODY_BYTES + 1) }), 413, 'payload_too_large'],
    ['huge', 'PATCH body over MAX_BODY_BYTES', (c) => patch(T(c), { title: big(MAX_BODY_BYTES + 1) }), 413, 'payload_too_large'],
    ['huge', 'send body over MAX_BODY_BYTES', (c) => post(M(c), { content: big(MAX_BODY_BYTES + 1) }), 413, 'payload_too_large'],
    ['huge', 'send body of 1 MB', (c) => post(M(c), { content: big(1024 * 1024) }), 413, 'payload_too_large'],
    ['huge', 'dev-token body over MAX_BODY_BYTES', () => post('/api/dev/token', { userId: big(MAX_BODY_BYTES + 1) }), 413, 'payload_too_large'],
    [
      'huge',
      'chunked body over MAX_BODY_BYTES (no Content-Length)',
      (c) => {
        const chunk = `{"content":"${big(MAX_BODY_BYTES + 10)}"}`;
        return raw((t) => rawHead(`POST ${M(c)} HTTP/1.1`, t, 'Content-Type: application/json', 'Transfer-Encoding: chunked'), `${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`);
      },
      413,
      'payload_too_large',
    ],
    ['huge', 'gzip body that inflates past MAX_BODY_BYTES', (c) => post(M(c), gzipSync(JSON.stringify({ content: big(4 * MAX_BODY_BYTES) })), { 'content-encoding': 'gzip' }), 413, 'payload_too_large'],
    ['huge', 'content one character over MAX_MESSAGE_CHARS', (c) => post(M(c), { content: big(MAX_MESSAGE_CHARS + 1) }), 400, 'invalid_request'],
    ['huge', 'title of 201 characters', () => post('/api/threads', { title: big(201) }), 400, 'invalid_request'],
    ['huge', 'model of 101 characters', (c) => post(M(c), { content: 'hi', model: big(101) }), 400, 'invalid_request'],
    ['huge', 'a 10,000-character thread id', () => get(`/api/threads/${big(10_000)}`), 400, 'invalid_request'],
    ['huge', 'a 600-character cursor', () => get(`/api/threads?cursor=${big(600)}`), 400, 'invalid_request'],
    ['huge', 'a limit of 1e400', () => get('/api/threads?limit=1e400'), 400, 'invalid_request'],

    // ---- unknown fields ----
    ['unknown fields', 'create thread with pinned', () => post('/api/threads', { title: 'ok', pinned: true }), 400, 'invalid_request'],
    ['unknown fields', 'create thread with __proto__', () => post('/api/threads', '{"title":"ok","__proto__":{"admin":true}}'), 400, 'invalid_request'],
    ['unknown fields', 'create thread with constructor.prototype', () => post('/api/threads', '{"constructor":{"prototype":{"admin":true}}}'), 400, 'invalid_request'],
    ['unknown fields', 'create thread with an id of its choosing', () => post('/api/threads', { id: randomUUID(), title: 'ok' }), 400, 'invalid_request'],
    ['unknown fields', 'PATCH archived', (c) => patch(T(c), { archived: true }), 400, 'invalid_request'],
    ['unknown fields', 'PATCH a title and a new owner', (c) => patch(T(c), { title: 'mine now', userId: 'mallory' }), 400, 'invalid_request'],
    ['unknown fields', 'PATCH activeStreamId', (c) => patch(T(c), { activeStreamId: null }), 400, 'invalid_request'],
    ['unknown fields', 'send with role: assistant', (c) => post(M(c), { content: 'hi', role: 'assistant' }), 400, 'invalid_request'],
    ['unknown fields', 'send with another threadId', (c) => post(M(c), { content: 'hi', threadId: randomUUID() }), 400, 'invalid_request'],
    ['unknown fields', 'send with a status', (c) => post(M(c), { content: 'hi', status: 'complete' }), 400, 'invalid_request'],
    ['unknown fields', 'dev token with admin: true', () => post('/api/dev/token', { userId: 'x', admin: true }), 400, 'invalid_request'],
    ['unknown fields', 'threads ?sort=title', () => get('/api/threads?sort=title'), 400, 'invalid_request'],
    ['unknown fields', 'threads ?limit[]=1', () => get('/api/threads?limit[]=1'), 400, 'invalid_request'],
    ['unknown fields', 'messages ?after=', (c) => get(`${M(c)}?after=${randomUUID()}`), 400, 'invalid_request'],
    ['unknown fields', 'notifications ?type=', () => get('/api/notifications?type=system.warning'), 400, 'invalid_request'],

    // ---- bad ids ----
    ['bad ids', 'GET thread: a dot in the id', () => get('/api/threads/not.an.id'), 400, 'invalid_request'],
    ['bad ids', 'GET thread: 65 characters', () => get(`/api/threads/${'x'.repeat(65)}`), 400, 'invalid_request'],
    ['bad ids', 'GET thread: a uuid with a suffix', (c) => get(`/api/threads/${c.thread}~`), 400, 'invalid_request'],
    ['bad ids', 'GET thread: a letter outside ASCII', () => get('/api/threads/caf%C3%A9'), 400, 'invalid_request'],
    ['bad ids', 'GET thread: a well-formed chat id nobody has is missing, not malformed', () => get('/api/threads/no-such-chat'), 404, 'not_found'],
    ['bad ids', 'GET thread: %00', () => get('/api/threads/%00'), 400, 'invalid_request'],
    ['bad ids', 'GET thread: a broken percent-encoding', () => get('/api/threads/%E0%A4%A'), 400, 'invalid_request'],
    ['bad ids', 'GET thread: an encoded path traversal', () => get('/api/threads/..%2F..%2Fhealthz'), 400, 'invalid_request'],
    ['bad ids', 'GET thread: a trailing space', (c) => get(`/api/threads/${c.thread}%20`), 400, 'invalid_request'],
    ['bad ids', 'GET thread: SQL in the id', () => get(`/api/threads/${encodeURIComponent("' OR '1'='1")}`), 400, 'invalid_request'],
    ['bad ids', 'PATCH thread: malformed id', () => patch('/api/threads/not.an.id', { title: 'x' }), 400, 'invalid_request'],
    ['bad ids', 'DELETE thread: malformed id', () => request('DELETE', '/api/threads/not.an.id'), 400, 'invalid_request'],
    ['bad ids', 'GET messages: malformed id', () => get('/api/threads/no.pe/messages'), 400, 'invalid_request'],
    ['bad ids', 'send: malformed id', () => post('/api/threads/no.pe/messages', { content: 'hi' }), 400, 'invalid_request'],
    ['bad ids', 'chat resume: malformed id', () => get('/api/chat/no.pe/stream'), 400, 'invalid_request'],
    ['bad ids', 'chat stop: malformed id', () => request('DELETE', '/api/chat/no.pe/stream'), 400, 'invalid_request'],
    ['bad ids', 'chat send: malformed id', () => post('/api/chat', { id: 'no pe', messages: [{ role: 'user', parts: [{ type: 'text', text: 'hi' }] }] }), 400, 'invalid_request'],
    ['bad ids', 'messages ?before= not a uuid', (c) => get(`${M(c)}?before=yesterday`), 400, 'invalid_request'],
    ['bad ids', 'messages ?before= a message of no thread', (c) => get(`${M(c)}?before=${randomUUID()}`), 400, 'invalid_request'],
    ['bad ids', 'GET stream: not a uuid', () => get('/api/streams/not-a-uuid'), 400, 'invalid_request'],
    ['bad ids', 'cancel stream: not a uuid', () => post('/api/streams/not-a-uuid/cancel'), 400, 'invalid_request'],
    ['bad ids', 'read notification: not a uuid', () => post('/api/notifications/not-a-uuid/read'), 400, 'invalid_request'],
    ['bad ids', 'read notification: a space', () => post('/api/notifications/%20/read'), 400, 'invalid_request'],
    ['bad ids', 'GET thread: a missing uuid', () => get(`/api/threads/${randomUUID()}`), 404, 'not_found'],
    ['bad ids', 'DELETE thread: a missing uuid', () => request('DELETE', `/api/threads/${randomUUID()}`), 404, 'not_found'],
    ['bad ids', 'send to a missing thread', () => post(`/api/threads/${randomUUID()}/messages`, { content: 'hi [sim tokens=1]' }), 404, 'not_found'],
    ['bad ids', 'cancel a missing stream', () => post(`/api/streams/${randomUUID()}/cancel`), 404, 'not_found'],
    ['bad ids', 'read a missing notification', () => post(`/api/notifications/${randomUUID()}/read`), 404, 'not_found'],

    // ---- unknown routes and methods ----
    ['unknown routes', 'GET /api/thread (typo)', () => get('/api/thread'), 404, 'not_found'],
    ['unknown routes', 'PUT a thread', (c) => request('PUT', T(c), { title: 'x' }), 404, 'not_found'],
    ['unknown routes', 'DELETE all threads', () => request('DELETE', '/api/threads'), 404, 'not_found'],
    ['unknown routes', 'GET /api/streams (no id)', () => get('/api/streams'), 404, 'not_found'],
    ['unknown routes', 'DELETE a message', (c) => request('DELETE', `${M(c)}/${c.message}`), 404, 'not_found'],

    // ---- bad cursors ----
    ['bad cursors', 'empty', () => get('/api/threads?cursor='), 400, 'invalid_request'],
    ['bad cursors', 'characters outside base64url', () => get('/api/threads?cursor=abc%2Bdef%2F'), 400, 'invalid_request'],
    ['bad cursors', 'base64url of plain text', () => get(`/api/threads?cursor=${b64('hello')}`), 400, 'invalid_request'],
    ['bad cursors', 'base64url of an array', () => get(`/api/threads?cursor=${cursorOf([1, 2])}`), 400, 'invalid_request'],
    ['bad cursors', 'a date that is not a date', () => get(`/api/threads?cursor=${cursorOf({ at: 'yesterday', id: randomUUID() })}`), 400, 'invalid_request'],
    ['bad cursors', 'an id that is not a uuid', () => get(`/api/threads?cursor=${cursorOf({ at: new Date().toISOString(), id: 'x' })}`), 400, 'invalid_request'],
    ['bad cursors', 'an extra field', () => get(`/api/threads?cursor=${cursorOf({ at: new Date().toISOString(), id: randomUUID(), userId: 'x' })}`), 400, 'invalid_request'],
    ['bad cursors', 'only an id', () => get(`/api/threads?cursor=${cursorOf({ id: randomUUID() })}`), 400, 'invalid_request'],
    ['bad cursors', 'given twice', () => get('/api/threads?cursor=abc&cursor=def'), 400, 'invalid_request'],
    ['bad cursors', 'SQL in the cursor', () => get(`/api/threads?cursor=${cursorOf({ at: "2026-01-01' OR 1=1 --", id: randomUUID() })}`), 400, 'invalid_request'],
    ['bad cursors', 'notifications: base64url of {}', () => get(`/api/notifications?cursor=${cursorOf({})}`), 400, 'invalid_request'],
    ['bad cursors', 'notifications: a dot in it', () => get('/api/notifications?cursor=abc.def'), 400, 'invalid_request'],
    ['bad cursors', 'notifications: a number for a date', () => get(`/api/notifications?cursor=${cursorOf({ at: 1_700_000_000_000, id: randomUUID() })}`), 400, 'invalid_request'],

    // ---- bad query values ----
    ['bad query', 'threads limit=abc', () => get('/api/threads?limit=abc'), 400, 'invalid_request'],
    ['bad query', 'threads limit=0', () => get('/api/threads?limit=0'), 400, 'invalid_request'],
    ['bad query', 'threads limit=-1', () => get('/api/threads?limit=-1'), 400, 'invalid_request'],
    ['bad query', 'threads limit=1.5', () => get('/api/threads?limit=1.5'), 400, 'invalid_request'],
    ['bad query', 'threads limit=101', () => get('/api/threads?limit=101'), 400, 'invalid_request'],
    ['bad query', 'threads limit=%00', () => get('/api/threads?limit=%00'), 400, 'invalid_request'],
    ['bad query', 'messages limit=201', (c) => get(`${M(c)}?limit=201`), 400, 'invalid_request'],
    ['bad query', 'notifications unread=yes', () => get('/api/notifications?unread=yes'), 400, 'invalid_request'],
    ['bad query', 'notifications unread=1', () => get('/api/notifications?unread=1'), 400, 'invalid_request'],
    ['bad query', 'notifications unread twice', () => get('/api/notifications?unread=true&unread=false'), 400, 'invalid_request'],

    // ---- bad headers ----
    ['bad headers', 'Content-Type: text/plain', () => post('/api/threads', '{"title":"x"}', { 'content-type': 'text/plain' }), 400, 'invalid_request'],
    ['bad headers', 'Content-Type: form-urlencoded', () => post('/api/threads', 'title=x', { 'content-type': 'application/x-www-form-urlencoded' }), 400, 'invalid_request'],
    [
      'bad headers',
      'Content-Type: multipart/form-data',
      () => post('/api/threads', '--b\r\nContent-Disposition: form-data; name="title"\r\n\r\nx\r\n--b--\r\n', { 'content-type': 'multipart/form-data; boundary=b' }),
      400,
      'invalid_request',
    ],
    [
      'bad headers',
      'a body with no Content-Type',
      () => raw((t) => rawHead('POST /api/threads HTTP/1.1', t, 'Content-Length: 13'), '{"title":"x"}'),
      400,
      'invalid_request',
    ],
    ['bad headers', 'charset=latin1', () => post('/api/threads', '{"title":"x"}', { 'content-type': 'application/json; charset=latin1' }), 400, 'invalid_request'],
    ['bad headers', 'charset=utf-16', () => post('/api/threads', '{"title":"x"}', { 'content-type': 'application/json; charset=utf-16' }), 400, 'invalid_request'],
    ['bad headers', 'Content-Encoding: compress', () => post('/api/threads', '{"title":"x"}', { 'content-encoding': 'compress' }), 400, 'invalid_request'],
    ['bad headers', 'Content-Encoding: br with plain bytes', () => post('/api/threads', '{"title":"x"}', { 'content-encoding': 'br' }), 400, 'invalid_request'],
    ['bad headers', 'Idempotency-Key empty', (c) => post(M(c), { content: 'hi' }, { 'idempotency-key': '' }), 400, 'invalid_request'],
    ['bad headers', 'Idempotency-Key of 201 characters', (c) => post(M(c), { content: 'hi' }, { 'idempotency-key': big(201) }), 400, 'invalid_request'],
    ['bad headers', 'Idempotency-Key with spaces', (c) => post(M(c), { content: 'hi' }, { 'idempotency-key': 'a key' }), 400, 'invalid_request'],
    [
      'bad headers',
      'Idempotency-Key with a Latin-1 byte',
      (c) => raw((t) => rawHead(`POST ${M(c)} HTTP/1.1`, t, 'Content-Type: application/json', 'Idempotency-Key: caf\xe9', 'Content-Length: 16'), '{"content":"hi"}'),
      400,
      'invalid_request',
    ],
    [
      'bad headers',
      'two Idempotency-Key headers',
      (c) => raw((t) => rawHead(`POST ${M(c)} HTTP/1.1`, t, 'Content-Type: application/json', 'Idempotency-Key: a', 'Idempotency-Key: b', 'Content-Length: 16'), '{"content":"hi"}'),
      400,
      'invalid_request',
    ],
    ['bad headers', 'Authorization: Basic', () => get('/api/threads', { authorization: 'Basic YWxpY2U6cHc=' }), 401, 'unauthorized'],
    ['bad headers', 'Authorization: Bearer with two tokens', () => get('/api/threads', { authorization: `Bearer ${validToken()} ${validToken()}` }), 401, 'unauthorized'],
    ['bad headers', 'Authorization: Bearer with nothing after it', () => get('/api/threads', { authorization: 'Bearer ' }), 401, 'unauthorized'],
    ['bad headers', 'Authorization: a tampered token', () => get('/api/threads', { authorization: `Bearer ${validToken()}x` }), 401, 'unauthorized'],
    ['bad headers', 'Authorization: a token for a user id with spaces', () => get('/api/threads', { authorization: `Bearer ${jwt.sign({ sub: 'a b' }, TEST_AUTH_SECRET)}` }), 401, 'unauthorized'],
    ['bad headers', 'Accept: text/html still gets JSON', () => get('/api/nothing-here', { accept: 'text/html' }), 404, 'not_found'],

    // ---- malformed HTTP: refused by Node's parser before express (answered by http/client-errors.ts) ----
    ['malformed HTTP', 'a control character in a header value', () => raw((t) => rawHead('GET /api/threads HTTP/1.1', t, 'X-Note: a\x01b')), 400, 'invalid_request'],
    ['malformed HTTP', 'headers over 16 KB', () => raw((t) => rawHead('GET /api/threads HTTP/1.1', t, `X-Padding: ${big(20_000)}`)), 413, 'payload_too_large'],
    [
      'malformed HTTP',
      'broken chunked encoding',
      (c) => raw((t) => rawHead(`POST ${M(c)} HTTP/1.1`, t, 'Content-Type: application/json', 'Transfer-Encoding: chunked'), 'zz\r\n{}\r\n0\r\n\r\n'),
      400,
      'invalid_request',
    ],
    [
      'malformed HTTP',
      'Content-Length and Transfer-Encoding together',
      (c) => raw((t) => rawHead(`POST ${M(c)} HTTP/1.1`, t, 'Content-Type: application/json', 'Content-Length: 16', 'Transfer-Encoding: chunked'), '10\r\n{"content":"hi"}\r\n0\r\n\r\n'),
      400,
      'invalid_request',
    ],
    [
      'malformed HTTP',
      'a Content-Length that is not a number',
      (c) => raw((t) => rawHead(`POST ${M(c)} HTTP/1.1`, t, 'Content-Type: application/json', 'Content-Length: sixteen'), '{"content":"hi"}'),
      400,
      'invalid_request',
    ],
    ['malformed HTTP', 'a request line that is not HTTP', () => raw(() => 'HELLO THERE\r\n\r\n'), 400, 'invalid_request'],
  ];

  describe.each(rows.map(([category, name, send, status, code]) => ({ label: `[${category}] ${name}`, send, status, code })))('$label', ({ send, status, code }) => {
    it(`is ${status} ${code}, as JSON, without internals`, async () => {
      const answer = await send(ctx);
      expect({ status: answer.status, code: answer.body?.error?.code }).toEqual({ status, code });
      expect(answer.contentType).toBe('application/json; charset=utf-8');
      expect(typeof answer.body.error.message).toBe('string');
      expect(JSON.stringify(answer.body)).not.toMatch(/node_modules|\.ts:\d+|\.js:\d+|\bat \w+ \(|prisma|Invalid `/i);
    });
  });

  // ---- bad socket payloads: an ack `{ok:false, error:{code}}` and nothing else ----
  type Emit = (s: TestSocket, c: Ctx) => Promise<unknown>;
  /** Emits raw arguments (the typed client API would not let a test send these) and waits for the ack. */
  const emitRaw = (s: TestSocket, event: string, ...args: unknown[]) => (s.timeout(5_000) as unknown as { emitWithAck(e: string, ...a: unknown[]): Promise<unknown> }).emitWithAck(event, ...args);
  const invalid = { ok: false, error: { code: 'invalid_request', message: expect.any(String) } };

  const socketRows: Array<[name: string, emit: Emit, ack: unknown]> = [
    ['thread.open with a string', (s) => emitRaw(s, 'thread.open', 'abc'), invalid],
    ['thread.open with a number', (s) => emitRaw(s, 'thread.open', 42), invalid],
    ['thread.open with null', (s) => emitRaw(s, 'thread.open', null), invalid],
    ['thread.open with an array', (s, c) => emitRaw(s, 'thread.open', [c.thread]), invalid],
    ['thread.open with binary', (s) => emitRaw(s, 'thread.open', Buffer.from('abc')), invalid],
    ['thread.open with no payload, only an ack', (s) => emitRaw(s, 'thread.open'), invalid],
    ['thread.open with an extra argument', (s, c) => emitRaw(s, 'thread.open', { threadId: c.thread }, 'extra'), invalid],
    ['thread.open with {}', (s) => emitRaw(s, 'thread.open', {}), invalid],
    ['thread.open with an extra field', (s, c) => emitRaw(s, 'thread.open', { threadId: c.thread, admin: true }), invalid],
    ['thread.open with threadId: number', (s) => emitRaw(s, 'thread.open', { threadId: 42 }), invalid],
    ['thread.open with a malformed threadId', (s) => emitRaw(s, 'thread.open', { threadId: 'not.an.id' }), invalid],
    ['thread.open with threadId: object', (s, c) => emitRaw(s, 'thread.open', { threadId: { $ne: c.thread } }), invalid],
    ['thread.open with a 500 KB threadId', (s) => emitRaw(s, 'thread.open', { threadId: big(500_000) }), invalid],
    ['thread.open of a missing thread', (s) => emitRaw(s, 'thread.open', { threadId: randomUUID() }), { ok: false, error: { code: 'not_found', message: 'thread not found' } }],
    ['thread.close with a string', (s) => emitRaw(s, 'thread.close', 'abc'), invalid],
    ['thread.close with no payload, only an ack', (s) => emitRaw(s, 'thread.close'), invalid],
    ['thread.close with an extra field', (s, c) => emitRaw(s, 'thread.close', { threadId: c.thread, x: 1 }), invalid],
    ['thread.close with threadId: number', (s) => emitRaw(s, 'thread.close', { threadId: 42 }), invalid],
    ['thread.close with a 500 KB threadId', (s) => emitRaw(s, 'thread.close', { threadId: big(500_000) }), invalid],
    ['an unknown event with an ack', (s) => emitRaw(s, 'thread.delete', { threadId: randomUUID() }), { ok: false, error: { code: 'not_found', message: 'unknown event' } }],
  ];

  describe('bad socket payloads', () => {
    it.each(socketRows)('%s: the ack is the documented error (docs/protocol.md#errors)', async (_name, emit, ack) => {
      expect(await emit(socket, ctx)).toEqual(ack);
    });

    it.each<[string, (s: TestSocket, c: Ctx) => void]>([
      ['thread.open without an ack', (s, c) => void (s as unknown as { emit(e: string, ...a: unknown[]): void }).emit('thread.open', { threadId: c.thread })],
      ['thread.close of garbage without an ack', (s) => void (s as unknown as { emit(e: string, ...a: unknown[]): void }).emit('thread.close', 12345)],
      ['an unknown event without an ack', (s) => void (s as unknown as { emit(e: string, ...a: unknown[]): void }).emit('admin.dropAll', {})],
    ])('%s: no answer, and the same socket keeps answering', async (_name, emit) => {
      emit(socket, ctx);
      // The server handles a socket's packets in order: the next ack comes after the one above was handled.
      expect(await emitRaw(socket, 'thread.open', { threadId: randomUUID() })).toEqual({ ok: false, error: { code: 'not_found', message: 'thread not found' } });
      expect(socket.connected).toBe(true);
    });

    it('a packet over 1 MB closes that connection (engine.io maxHttpBufferSize); a new one is served', async () => {
      const victim = await connectSocket(system.url(), api.token);
      const closed = new Promise<string>((resolve) => victim.once('disconnect', (reason) => resolve(reason)));
      victim.emit('thread.open', { threadId: big(1_100_000) }, () => undefined);
      expect(await closed).toBe('transport close');
      const fresh = await connectSocket(system.url(), api.token);
      expect(await emitRaw(fresh, 'thread.open', { threadId: 'x.y' })).toEqual(invalid);
      fresh.disconnect();
    });
  });

  describe('after every row above', () => {
    it('the user’s threads, messages, streams and notifications are exactly as before', async () => {
      expect(await snapshot()).toEqual(before);
    });

    it('the API and the worker still run, and the API logged no unhandled error', async () => {
      expect(system.apis[0].running).toBe(true);
      expect(system.workers[0].running).toBe(true);
      expect((await fetch(`${system.url()}/healthz`)).status).toBe(200);
      const failures = system.apis[0].lines.filter((l) => (l.level as number) >= 50 || /unhandled error|socket handler failed|socket thread step failed/.test(l.msg ?? ''));
      expect(failures).toEqual([]);
    });
  });
});
