// The load driver: simulated users of one path, in a process of its own so its CPU can be
// measured apart from the servers'. Spawned by scripts/bench.mjs with an IPC channel;
// argv[2] is its JSON config. Two client kinds:
//   socket — socket.io users (the product, and the naive baseline that speaks the same
//            events): one socket per user, each with several threads open (multiplexed);
//   sse    — one HTTP server-sent-events response per stream (the resumable-stream baseline).
//
// Protocol (parent → driver: go, exclude, switch, close; driver → parent: progress, ready,
// streamed, switched, closed). Each phase waits for the parent, which measures in between.
import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import jwt from 'jsonwebtoken';
import { io } from 'socket.io-client';
import { mapLimit, sleep, summarize } from './lib/stats.mjs';

const config = JSON.parse(process.argv[2]);
const send = (message) => process.send?.(message);
const inbox = [];
const waiting = new Map();
process.on('message', (message) => {
  if (message.type === 'exclude') return excluded.push([message.from, message.to + 250]);
  if (message.type === 'mark') return send({ type: 'marked', tokens: counters.tokens });
  const resolve = waiting.get(message.type);
  if (resolve) (waiting.delete(message.type), resolve(message));
  else inbox.push(message);
});
process.on('disconnect', () => process.exit(0));

/** The next message of `type` from the parent. */
function parent(type) {
  const i = inbox.findIndex((m) => m.type === type);
  if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0]);
  return new Promise((resolve) => waiting.set(type, resolve));
}

const log = (text) => send({ type: 'log', text });

// ---- measurements shared by both client kinds -------------------------------------------

/** Windows (epoch ms) the parent asked to leave out of latency figures (Redis MONITOR sampling). */
const excluded = [];
const latency = { ms: [], at: [] };
const opens = { ms: [], at: [], failed: 0 };
const counters = { frames: 0, tokens: 0, gaps: 0, duplicates: 0, stale: 0, resets: 0, mismatches: 0, failed: 0, completed: 0 };
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
/** The driver's own event-loop delay over the whole streaming phase: when it is high, the driver limits. */
const loopDelayAll = monitorEventLoopDelay({ resolution: 10 });
let active = 0;
let peakActive = 0;
let firstDeltaAt = null;
/** When the last message was sent: snapshot latency after it is free of the send ramp. */
let sendsDoneAt = 0;
let peakTokensPerSecond = 0;
let lastDeltaAt = null;

function sample(target, ms, at) {
  target.ms.push(ms);
  target.at.push(at);
}

/** Samples outside the excluded windows (and received after `after`, epoch ms). */
function withoutExcluded(target, after = 0) {
  return target.ms.filter((_, i) => target.at[i] > after && !excluded.some(([from, to]) => target.at[i] >= from && target.at[i] <= to));
}

/** Tokens in a frame: every token but a stream's first starts with a space. */
function tokensIn(text, first) {
  let n = first ? 1 : 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 32) n++;
  return n;
}

function startProgress() {
  loopDelayAll.enable();
  loopDelayAll.reset();
  let last = { frames: 0, tokens: 0, latencies: 0, opens: 0 };
  const started = Date.now();
  const timer = setInterval(() => {
    const window = latency.ms.slice(last.latencies);
    const s = summarize(window);
    send({
      type: 'progress',
      seconds: Math.round((Date.now() - started) / 1000),
      active,
      completed: counters.completed,
      framesPerSecond: counters.frames - last.frames,
      tokensPerSecond: counters.tokens - last.tokens,
      p99: s.p99,
      opens: opens.ms.length - last.opens,
      loopLagP99: loopDelay.percentile(99) / 1e6,
    });
    peakTokensPerSecond = Math.max(peakTokensPerSecond, counters.tokens - last.tokens);
    loopDelay.reset();
    last = { frames: counters.frames, tokens: counters.tokens, latencies: latency.ms.length, opens: opens.ms.length };
  }, 1000);
  return () => (clearInterval(timer), loopDelayAll.disable());
}

function streamedResult(streams, extra) {
  const perStreamRate = [];
  const firstToken = [];
  const completion = [];
  for (const s of streams) {
    if (s.completedAt && s.lastRecv) completion.push(s.completedAt - s.lastRecv);
    if (s.sentAt && s.firstRecv) firstToken.push(s.firstRecv - s.sentAt);
    if (s.firstAt && s.lastRecv > s.firstAt && s.tokens > 1) perStreamRate.push((s.tokens - 1) / ((s.lastRecv - s.firstAt) / 1000));
  }
  return {
    ...counters,
    streams: streams.length,
    incomplete: streams.filter((s) => !s.done).length,
    peakActive,
    firstDeltaAt,
    lastDeltaAt,
    latency: summarize(withoutExcluded(latency)),
    latencyAll: summarize(latency.ms),
    opens: { ...summarize(withoutExcluded(opens)), failed: opens.failed },
    opensAfterRamp: summarize(withoutExcluded(opens, sendsDoneAt)),
    tokensPerSecondPerStream: summarize(perStreamRate),
    firstToken: summarize(firstToken),
    lastTokenToCompleted: summarize(completion),
    peakTokensPerSecond,
    loopLagP99Ms: loopDelayAll.percentile(99) / 1e6,
    loopLagMaxMs: loopDelayAll.max / 1e6,
    ...extra,
  };
}

// ---- socket.io users (the product and the naive baseline) -------------------------------

// node:http with kept-alive connections, for every path alike. The driver shares the
// machine with the servers it measures, and undici's fetch took about twice the CPU.
const sharedAgent = new http.Agent({ keepAlive: true });

/** One HTTP request; resolves with the status and the body as text. */
function httpRequest(method, url, headers, body) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(url, { method, agent: sharedAgent, headers: { ...headers, ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }) } }, (res) => {
      const chunks = [];
      res.setEncoding('utf8');
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: chunks.join('') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** A user's API request. */
async function request(method, url, user, body) {
  const { status, text } = await httpRequest(method, url, { authorization: `Bearer ${user.token}` }, body);
  if (status >= 300) throw new Error(`${method} ${url}: ${status} ${text.slice(0, 200)}`);
  return text ? JSON.parse(text) : null;
}

function connect(token) {
  const socket = io(config.apiUrl, { auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

async function openThread(socket, threadId) {
  const ack = await socket.timeout(15_000).emitWithAck('thread.open', { threadId });
  if (!ack.ok) throw new Error(`thread.open ${threadId}: ${JSON.stringify(ack.error)}`);
  return ack;
}

function followStreams(socket, byThread) {
  socket.on('stream.started', (e) => {
    const s = byThread.get(e.threadId);
    if (s) s.streamId = e.streamId;
  });
  socket.on('stream.reset', (e) => {
    const s = byThread.get(e.threadId);
    if (!s || e.attempt <= s.attempt) return;
    counters.resets++;
    Object.assign(s, { attempt: e.attempt, seq: 0, text: '', tokens: 0 });
  });
  socket.on('stream.delta', (e) => {
    const now = Date.now();
    const s = byThread.get(e.threadId);
    if (!s || s.done) return;
    if (e.attempt < s.attempt) return void counters.stale++;
    if (e.attempt > s.attempt) Object.assign(s, { attempt: e.attempt, seq: 0, text: '', tokens: 0 });
    if (e.seq <= s.seq) return void counters.duplicates++;
    if (e.seq > s.seq + 1) counters.gaps += e.seq - s.seq - 1;
    const n = tokensIn(e.text, s.text === '');
    if (s.firstAt === null) {
      s.firstAt = typeof e.at === 'number' ? e.at : now;
      s.firstRecv = now;
      peakActive = Math.max(peakActive, ++active);
    }
    s.text += e.text;
    s.seq = e.seq;
    s.tokens += n;
    s.lastRecv = now;
    counters.frames++;
    counters.tokens += n;
    firstDeltaAt ??= now;
    lastDeltaAt = now;
    if (typeof e.at === 'number') sample(latency, now - e.at, now);
  });
  const end = (e, ok) => {
    const s = byThread.get(e.threadId);
    if (!s || s.done) return;
    s.done = true;
    s.completedAt = Date.now();
    if (s.firstAt !== null) active--;
    if (ok) {
      counters.completed++;
      if (e.message?.content !== s.text) counters.mismatches++;
    } else counters.failed++;
    s.onDone?.();
  };
  socket.on('stream.completed', (e) => end(e, true));
  socket.on('stream.failed', (e) => end(e, false));
  socket.on('stream.cancelled', (e) => end(e, false));
}

async function runSocketUsers() {
  const { streams: total, threadsPerUser, tokens, rate } = config;
  const userCount = Math.ceil(total / threadsPerUser);
  const users = Array.from({ length: userCount }, (_, u) => {
    const id = `bench-${config.label}-u${u}`;
    return { id, token: jwt.sign({ sub: id }, config.secret, { algorithm: 'HS256', expiresIn: 3600 }), threads: [], main: null, probe: null };
  });
  const slots = Array.from({ length: total }, (_, i) => users[Math.floor(i / threadsPerUser)]);
  const setupStarted = Date.now();
  // One request per user first: the API's first-sight user upsert fails with a 500 when
  // two requests of a new user race (see bench/README.md, "Found while measuring").
  await mapLimit(users, 32, (user) => request('GET', `${config.apiUrl}/api/threads?limit=1`, user));
  await mapLimit(slots, 32, async (user) => {
    const thread = await request('POST', `${config.apiUrl}/api/threads`, user, { title: 'bench' });
    user.threads.push(thread.id);
  });
  log(`created ${total} threads for ${userCount} users in ${Date.now() - setupStarted} ms`);

  const byThread = new Map();
  const streams = [];
  for (const user of users) {
    for (const threadId of user.threads) {
      const s = { threadId, user, streamId: null, attempt: 1, seq: 0, text: '', tokens: 0, firstAt: null, firstRecv: null, lastRecv: null, done: false };
      byThread.set(threadId, s);
      streams.push(s);
    }
  }
  const probeUsers = users.slice(0, Math.min(config.probeSockets, users.length));
  await mapLimit(users, 50, async (user) => {
    user.main = await connect(user.token);
    followStreams(user.main, byThread);
    for (const threadId of user.threads) await openThread(user.main, threadId);
    if (probeUsers.includes(user)) user.probe = await connect(user.token);
  });
  log(`connected ${userCount} sockets (${threadsPerUser} threads open on each) + ${probeUsers.length} probe sockets in ${Date.now() - setupStarted} ms`);
  send({ type: 'ready', users: userCount, sockets: userCount + probeUsers.length });

  await parent('go');
  const stopProgress = startProgress();
  const allDone = new Promise((resolve) => {
    let left = streams.length;
    for (const s of streams) s.onDone = () => --left === 0 && resolve();
  });
  const sends = { ms: [], at: [], failed: 0 };
  // A burst: every message is sent within `sendWindowMs`, evenly spaced, none waiting for
  // another's answer (many users pressing Send at once).
  const sending = burst(streams, config.sendWindowMs, async (s) => {
    const t0 = performance.now();
    s.sentAt = Date.now();
    try {
      await request('POST', `${config.apiUrl}/api/threads/${s.threadId}/messages`, s.user, {
        content: `[sim tokens=${tokens} rate=${rate}] bench ${s.threadId}`,
      });
      sample(sends, performance.now() - t0, Date.now());
    } catch (err) {
      sends.failed++;
      s.done = true;
      s.onDone();
      if (sends.failed <= 3) log(`send failed: ${err.message}`);
    }
  });
  void sending.then(() => (sendsDoneAt = Date.now()));
  const stopProbes = probeWhileStreaming(probeUsers, byThread);
  const deadline = sleep(config.deadlineMs).then(() => 'deadline');
  const how = await Promise.race([allDone.then(() => 'done'), deadline]);
  await sending;
  await stopProbes();
  stopProgress();
  if (how === 'deadline') log(`deadline reached with ${streams.filter((s) => !s.done).length} streams unfinished`);
  send({ type: 'streamed', result: streamedResult(streams, { sends: { ...summarize(sends.ms), failed: sends.failed } }) });

  if (config.notifications > 0) {
    await parent('notify');
    send({ type: 'notified', result: await notificationBurst(users) });
  }

  await parent('switch');
  send({ type: 'switched', result: await switchThreads(probeUsers) });

  await parent('close');
  for (const user of users) {
    user.main?.disconnect();
    user.probe?.disconnect();
  }
  await sleep(500);
  send({ type: 'closed' });
}

/**
 * Notifications under load: `config.notifications` short answers, sent in one burst on
 * threads nobody has open, so they complete within about a second and each is notified.
 * Returns when each `notification.created` arrived at its user's socket (epoch ms).
 */
async function notificationBurst(users) {
  const count = config.notifications;
  const owners = Array.from({ length: count }, (_, i) => users[i % users.length]);
  const threads = await mapLimit(owners, 32, async (user) => ({ user, threadId: (await request('POST', `${config.apiUrl}/api/threads`, user, { title: 'bench notify' })).id }));
  const receivedAt = {};
  let received = 0;
  let allReceived;
  const done = new Promise((resolve) => (allReceived = resolve));
  const onNotification = (n) => {
    if (receivedAt[n.streamId] !== undefined) return;
    receivedAt[n.streamId] = Date.now();
    if (++received === count) allReceived();
  };
  for (const user of users) user.main.on('notification.created', onNotification);
  const streamIds = [];
  const started = Date.now();
  await burst(threads, config.sendWindowMs, async ({ user, threadId }) => {
    const sent = await request('POST', `${config.apiUrl}/api/threads/${threadId}/messages`, user, { content: `[sim tokens=5 rate=1000] notify ${threadId}` });
    streamIds.push(sent.stream.id);
  });
  const how = await Promise.race([done.then(() => 'all'), sleep(60_000).then(() => 'deadline')]);
  for (const user of users) user.main.off('notification.created', onNotification);
  log(`notification burst: ${received}/${count} notifications in ${Date.now() - started} ms (${how})`);
  return { streamIds, receivedAt };
}

/** Runs `fn` for every item, item i starting at i × windowMs / n: all started within the window, all awaited. */
function burst(items, windowMs, fn) {
  const spacing = items.length > 1 ? windowMs / (items.length - 1) : 0;
  return Promise.all(items.map((item, i) => sleep(Math.round(i * spacing)).then(() => fn(item))));
}

/** `thread.open` → ack latency on probe sockets at `openRate`/s while the streams run; then close. */
function probeWhileStreaming(probeUsers, byThread) {
  if (probeUsers.length === 0 || config.openRate <= 0) return async () => undefined;
  let stopped = false;
  let next = 0;
  const inFlight = new Set();
  const timer = setInterval(() => {
    const user = probeUsers[next++ % probeUsers.length];
    if (user.busy) return;
    const running = user.threads.filter((t) => byThread.get(t).firstAt !== null && !byThread.get(t).done);
    const pool = running.length > 0 ? running : user.threads;
    const threadId = pool[Math.floor(Math.random() * pool.length)];
    user.busy = true;
    const probe = (async () => {
      const t0 = performance.now();
      try {
        await openThread(user.probe, threadId);
        sample(opens, performance.now() - t0, Date.now());
        await user.probe.timeout(15_000).emitWithAck('thread.close', { threadId });
      } catch {
        opens.failed++;
      } finally {
        user.busy = false;
      }
    })();
    inFlight.add(probe);
    void probe.finally(() => inFlight.delete(probe));
  }, 1000 / config.openRate);
  return async () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    await Promise.all([...inFlight]);
  };
}

/** `switches` thread switches (close the open one, open the next) spread over the probe sockets. */
async function switchThreads(probeUsers) {
  const latencies = [];
  let failed = 0;
  let left = config.switches;
  const started = performance.now();
  await Promise.all(
    probeUsers.map(async (user) => {
      let current = null;
      let i = 0;
      while (left > 0) {
        left--;
        const threadId = user.threads[i++ % user.threads.length];
        try {
          if (current) await user.probe.timeout(15_000).emitWithAck('thread.close', { threadId: current });
          const t0 = performance.now();
          await openThread(user.probe, threadId);
          latencies.push(performance.now() - t0);
          current = threadId;
        } catch {
          failed++;
          current = null;
        }
      }
      if (current) await user.probe.timeout(15_000).emitWithAck('thread.close', { threadId: current }).catch(() => failed++);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { switches: latencies.length, failed, seconds, perSecond: latencies.length / seconds, open: summarize(latencies) };
}

// ---- server-sent events, one response per stream (resumable-stream baseline) -----------

async function post(url, body) {
  const { status, text } = await httpRequest('POST', url, {}, body ?? {});
  if (status >= 300) throw new Error(`POST ${url}: ${status} ${text}`);
}

/** GET /rs/:id; resolves when the response starts (the resume is acknowledged). */
function resume(id, onEvent, onEnd) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get(`${config.apiUrl}/rs/${id}`, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return reject(new Error(`resume ${id}: ${res.statusCode}`));
      }
      const ms = performance.now() - t0;
      let buffered = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        buffered += chunk;
        let end;
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const event = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          if (event.startsWith('data: ')) onEvent?.(JSON.parse(event.slice(6)));
        }
      });
      res.on('end', () => onEnd?.());
      res.on('error', () => onEnd?.());
      resolve({ ms, req });
    });
    req.on('error', reject);
  });
}

async function runSseStreams() {
  const { streams: total, tokens, rate } = config;
  const streams = Array.from({ length: total }, (_, i) => ({
    id: `${config.label}-${process.pid}-${i}`, next: 0, tokens: 0, firstAt: null, lastRecv: null, done: false,
  }));
  const setupStarted = Date.now();
  for (let i = 0; i < total; i += 200) await post(`${config.producerUrl}/create`, { ids: streams.slice(i, i + 200).map((s) => s.id), tokens, rate });
  let left = total;
  let allDone;
  const finished = new Promise((resolve) => (allDone = resolve));
  const attach = await mapLimit(streams, 100, async (s) => {
    const { ms } = await resume(
      s.id,
      (e) => {
        const now = Date.now();
        if (e.i < s.next) return void counters.duplicates++;
        if (e.i > s.next) counters.gaps += e.i - s.next;
        if (s.firstAt === null) {
          s.firstAt = e.at;
          peakActive = Math.max(peakActive, ++active);
        }
        s.next = e.i + 1;
        s.tokens++;
        s.lastRecv = now;
        counters.frames++;
        counters.tokens++;
        firstDeltaAt ??= now;
        lastDeltaAt = now;
        sample(latency, now - e.at, now);
      },
      () => {
        if (s.done) return;
        s.done = true;
        s.completedAt = Date.now();
        if (s.firstAt !== null) active--;
        if (s.next === tokens) counters.completed++;
        else counters.failed++;
        if (--left === 0) allDone();
      },
    );
    return ms;
  });
  log(`created and resumed ${total} streams (one SSE response each) in ${Date.now() - setupStarted} ms`);
  send({ type: 'ready', users: total, sockets: total, attach: summarize(attach) });

  await parent('go');
  const stopProgress = startProgress();
  await post(`${config.producerUrl}/go`);
  const stopProbes = probeResumes(streams);
  const how = await Promise.race([finished.then(() => 'done'), sleep(config.deadlineMs).then(() => 'deadline')]);
  await stopProbes();
  stopProgress();
  if (how === 'deadline') log(`deadline reached with ${left} streams unfinished`);
  send({ type: 'streamed', result: streamedResult(streams, {}) });
  await parent('switch');
  send({ type: 'switched', result: null });
  await parent('close');
  send({ type: 'closed' });
}

/** The resumable-stream equivalent of thread.open: resume a running stream, time to first byte. */
function probeResumes(streams) {
  if (config.openRate <= 0) return async () => undefined;
  const inFlight = new Set();
  const timer = setInterval(() => {
    if (inFlight.size >= config.probeSockets) return;
    const running = streams.filter((s) => s.firstAt !== null && !s.done);
    if (running.length === 0) return;
    const s = running[Math.floor(Math.random() * running.length)];
    const probe = resume(s.id).then(
      ({ ms, req }) => {
        sample(opens, ms, Date.now());
        req.destroy();
      },
      () => opens.failed++,
    );
    inFlight.add(probe);
    void probe.finally(() => inFlight.delete(probe));
  }, 1000 / config.openRate);
  return async () => {
    clearInterval(timer);
    await Promise.all([...inFlight]);
  };
}

(config.client === 'sse' ? runSseStreams() : runSocketUsers()).then(
  () => process.exit(0),
  (err) => {
    send({ type: 'error', message: err?.stack ?? String(err) });
    process.exit(1);
  },
);
