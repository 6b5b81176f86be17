// Baseline 2, "resumable": the generating side of Vercel's resumable-stream (2.2.13) with
// ioredis, as an app runs it in the background (`waitUntil`) after the requester left:
// `resumableStream(id, makeStream)` per generation, each chunk one SSE event for one token.
// Every chunk is PUBLISHed to each listener's channel; listeners attach through
// resumable-api.mjs. The final text is saved once per stream (an app's onFinish).
//
// Env: REDIS_URL, DATABASE_URL. HTTP on 127.0.0.1 (free port):
//   POST /create {ids, tokens, rate}  creates the streams, whose tokens wait for /go
//   POST /go                          starts every created stream (each at a random phase)
import http from 'node:http';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createResumableStreamContext } from 'resumable-stream/ioredis';
import { benchTokens, pacedTokens } from './lib/token-schedule.mjs';

const publisher = new Redis(process.env.REDIS_URL, { connectionName: 'rs-producer-pub' });
const subscriber = new Redis(process.env.REDIS_URL, { connectionName: 'rs-producer-sub' });
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 20 });
await pool.query('CREATE TABLE IF NOT EXISTS rs_messages (id text PRIMARY KEY, content text NOT NULL)');

const running = new Set();
const stopping = new AbortController();
const context = createResumableStreamContext({
  keyPrefix: 'bench',
  publisher,
  subscriber,
  waitUntil: (promise) => {
    running.add(promise);
    promise.finally(() => running.delete(promise));
  },
});

let go;
const started = new Promise((resolve) => (go = resolve));

function makeStream(id, tokens, rate) {
  async function* events() {
    await started;
    // Spread the streams' token clocks over one token interval, as staggered requests would.
    await new Promise((r) => setTimeout(r, Math.random() * (1000 / rate)));
    let text = '';
    for await (const { index, token, at } of pacedTokens(benchTokens(id, tokens), rate, stopping.signal)) {
      text += token;
      yield `data: ${JSON.stringify({ i: index, t: token, at })}\n\n`;
    }
    await pool.query('INSERT INTO rs_messages (id, content) VALUES ($1, $2)', [id, text]);
  }
  return ReadableStream.from(events());
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => resolve(body ? JSON.parse(body) : {}));
    req.on('error', reject);
  });
}

async function create({ ids, tokens, rate }) {
  for (const id of ids) {
    const stream = await context.resumableStream(id, () => makeStream(id, tokens, rate));
    // The requester that started it is gone (the user switched threads): the generation
    // goes on, and only listeners that resume it see the tokens.
    await stream?.cancel();
  }
}

const server = http.createServer((req, res) => {
  const done = (status, body = {}) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.method === 'POST' && req.url === '/create') {
    readJson(req).then(create).then(() => done(201), (err) => done(500, { error: err.message }));
  } else if (req.method === 'POST' && req.url === '/go') {
    go();
    done(202);
  } else done(404);
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ msg: 'listening', port: server.address().port })));

process.on('SIGTERM', async () => {
  stopping.abort();
  go();
  await Promise.race([Promise.allSettled([...running]), new Promise((r) => setTimeout(r, 5000))]);
  server.close();
  publisher.disconnect();
  subscriber.disconnect();
  await pool.end();
  process.exit(0);
});
