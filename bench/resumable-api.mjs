// Baseline 2, "resumable": the serving side of Vercel's resumable-stream (2.2.13) with
// ioredis. GET /rs/:id resumes a running stream (GET sentinel, SUBSCRIBE a listener
// channel, PUBLISH a request; the producer answers with what it has, then every chunk)
// and relays it as server-sent events, one HTTP response per stream.
//
// Env: REDIS_URL. HTTP on 127.0.0.1 (free port); prints {"msg":"listening","port":…}.
import http from 'node:http';
import { Redis } from 'ioredis';
import { createResumableStreamContext } from 'resumable-stream/ioredis';

const publisher = new Redis(process.env.REDIS_URL, { connectionName: 'rs-api-pub' });
const subscriber = new Redis(process.env.REDIS_URL, { connectionName: 'rs-api-sub' });
const context = createResumableStreamContext({ keyPrefix: 'bench', publisher, subscriber });
let listeners = 0;

async function relay(id, req, res) {
  const stream = await context.resumeExistingStream(id);
  if (!stream) {
    res.writeHead(stream === null ? 422 : 404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  listeners++;
  const reader = stream.getReader();
  req.on('close', () => void reader.cancel().catch(() => undefined));
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      res.write(value);
    }
  } finally {
    listeners--;
    res.end();
  }
}

const server = http.createServer((req, res) => {
  const match = /^\/rs\/([\w-]+)$/.exec(req.url);
  if (req.method === 'GET' && match) {
    relay(match[1], req, res).catch((err) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err?.message ?? err));
    });
  } else if (req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ listeners }));
  } else res.writeHead(404).end();
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ msg: 'listening', port: server.address().port })));

process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close();
  publisher.disconnect();
  subscriber.disconnect();
  process.exit(0);
});
