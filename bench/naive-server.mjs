// Baseline 1, "naive": what a chat backend looks like before frames and a live buffer.
// One process holds the sockets and runs the generations; every token is one socket.io
// emit to the thread's room and one awaited UPDATE of the message row. Same REST paths
// and socket events as the product, so the same load driver drives it.
//
// Env: DATABASE_URL, AUTH_SECRET. Listens on 127.0.0.1, a free port; prints
// {"msg":"listening","port":…} when ready.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import pg from 'pg';
import { Server } from 'socket.io';
import { benchTokens, pacedTokens } from './lib/token-schedule.mjs';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 20 });
const secret = process.env.AUTH_SECRET;
const running = new Set();
const stopping = new AbortController();

await pool.query(`
  CREATE TABLE IF NOT EXISTS naive_threads (id text PRIMARY KEY, user_id text NOT NULL);
  CREATE TABLE IF NOT EXISTS naive_messages (
    id text PRIMARY KEY, thread_id text NOT NULL, content text NOT NULL DEFAULT '',
    seq int NOT NULL DEFAULT 0, status text NOT NULL);
  CREATE INDEX IF NOT EXISTS naive_messages_thread ON naive_messages (thread_id)`);

const userOf = (token) => {
  try {
    return jwt.verify(token ?? '', secret, { algorithms: ['HS256'] }).sub;
  } catch {
    return null;
  }
};

function readJson(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      try {
        resolve(body ? JSON.parse(body) : {});
      } catch (err) {
        reject(err);
      }
    });
    req.on('error', reject);
  });
}

const reply = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

/** The generation, inline: per token one emit and one UPDATE, the UPDATE awaited. */
async function generate(threadId, messageId, content) {
  const room = `thread:${threadId}`;
  const directive = /\[sim tokens=(\d+) rate=([\d.]+)\]/.exec(content);
  const tokens = benchTokens(content, Number(directive?.[1] ?? 120));
  const rate = Number(directive?.[2] ?? 40);
  io.to(room).emit('stream.started', { streamId: messageId, threadId, messageId, attempt: 1 });
  let text = '';
  for await (const { index, token, at } of pacedTokens(tokens, rate, stopping.signal)) {
    text += token;
    io.to(room).emit('stream.delta', { streamId: messageId, threadId, attempt: 1, seq: index + 1, text: token, at });
    await pool.query('UPDATE naive_messages SET content = content || $2, seq = $3 WHERE id = $1', [messageId, token, index + 1]);
  }
  await pool.query(`UPDATE naive_messages SET status = 'complete' WHERE id = $1`, [messageId]);
  io.to(room).emit('stream.completed', { streamId: messageId, threadId, message: { id: messageId, content: text, status: 'complete' } });
}

async function route(req, res) {
  const userId = userOf(/^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1]);
  if (!userId) return reply(res, 401, { error: { code: 'unauthorized' } });
  if (req.method === 'GET' && req.url.startsWith('/api/threads?')) {
    const { rows } = await pool.query('SELECT id FROM naive_threads WHERE user_id = $1 LIMIT 20', [userId]);
    return reply(res, 200, { items: rows });
  }
  if (req.method === 'POST' && req.url === '/api/threads') {
    await readJson(req);
    const id = randomUUID();
    await pool.query('INSERT INTO naive_threads (id, user_id) VALUES ($1, $2)', [id, userId]);
    return reply(res, 201, { id });
  }
  const send = /^\/api\/threads\/([\w-]+)\/messages$/.exec(req.url);
  if (req.method === 'POST' && send) {
    const { content } = await readJson(req);
    const threadId = send[1];
    const owner = await pool.query('SELECT 1 FROM naive_threads WHERE id = $1 AND user_id = $2', [threadId, userId]);
    if (owner.rowCount === 0) return reply(res, 404, { error: { code: 'not_found' } });
    const messageId = randomUUID();
    await pool.query(`INSERT INTO naive_messages (id, thread_id, status) VALUES ($1, $2, 'streaming')`, [messageId, threadId]);
    const run = generate(threadId, messageId, content)
      .catch((err) => console.error(JSON.stringify({ msg: 'generation failed', threadId, err: err.message })))
      .finally(() => running.delete(run));
    running.add(run);
    return reply(res, 202, { stream: { id: messageId, threadId } });
  }
  reply(res, 404, { error: { code: 'not_found' } });
}

const server = http.createServer((req, res) => {
  if (req.url === '/stats') return reply(res, 200, { rooms: io.of('/').adapter.rooms.size, sockets: io.of('/').sockets.size });
  route(req, res).catch((err) => reply(res, 500, { error: { code: 'internal', message: err.message } }));
});
const io = new Server(server, { serveClient: false });
io.use((socket, next) => {
  socket.data.userId = userOf(socket.handshake.auth?.token);
  next(socket.data.userId ? undefined : new Error('unauthorized'));
});
io.on('connection', (socket) => {
  socket.join(`user:${socket.data.userId}`);
  socket.on('thread.open', async ({ threadId }, ack) => {
    try {
      const owner = await pool.query('SELECT 1 FROM naive_threads WHERE id = $1 AND user_id = $2', [threadId, socket.data.userId]);
      if (owner.rowCount === 0) return ack({ ok: false, error: { code: 'not_found' } });
      socket.join(`thread:${threadId}`);
      const { rows } = await pool.query('SELECT id, content, seq, status FROM naive_messages WHERE thread_id = $1 ORDER BY id DESC LIMIT 1', [threadId]);
      ack({ ok: true, streams: rows.map((r) => ({ streamId: r.id, messageId: r.id, status: r.status, attempt: 1, seq: r.seq, content: r.content })) });
    } catch (err) {
      ack({ ok: false, error: { code: 'internal', message: err.message } });
    }
  });
  socket.on('thread.close', ({ threadId }, ack) => {
    socket.leave(`thread:${threadId}`);
    if (typeof ack === 'function') ack({ ok: true });
  });
});

server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ msg: 'listening', port: server.address().port })));

process.on('SIGTERM', async () => {
  stopping.abort();
  await Promise.allSettled([...running]);
  io.close();
  await pool.end();
  process.exit(0);
});
