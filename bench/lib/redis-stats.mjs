// What Redis says about a run: INFO commandstats deltas and a short MONITOR sample that
// tells round trips (commands clients send) from commands run inside Lua scripts.
import net from 'node:net';

/** Commands the benchmark itself sends, left out of the figures. */
const OWN = /^(info|config\|.*|client\|.*|monitor|scan|zcard|dbsize|pubsub\|.*|flushall|ping|select)$/;

/** Calls per command since the last CONFIG RESETSTAT (Lua-inner commands included). */
export async function commandStats(redis) {
  const text = await redis.info('commandstats');
  const calls = {};
  for (const line of text.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (m && !OWN.test(m[1])) calls[m[1]] = Number(m[2]);
  }
  return calls;
}

export const totalCalls = (calls) => Object.values(calls).reduce((a, b) => a + b, 0);

/** `{port: name}` of the connected clients, so a MONITOR line can be put on a process. */
async function clientNames(redis) {
  const names = {};
  for (const line of (await redis.client('LIST')).split('\n')) {
    const addr = /addr=\S+:(\d+)/.exec(line)?.[1];
    const name = /name=(\S*)/.exec(line)?.[1];
    if (addr) names[addr] = name || 'unnamed';
  }
  return names;
}

/** The first `count` quoted arguments of a MONITOR line, unescaped enough to compare. */
function monitorArgs(rest, count) {
  const args = [];
  const quoted = /"((?:[^"\\]|\\.)*)"/g;
  let m;
  while (args.length < count && (m = quoted.exec(rest))) args.push(m[1]);
  return args;
}

/**
 * Records every command for `ms` with MONITOR (a raw connection: ioredis' monitor mode
 * loses track of replies under load). Returns top-level commands (round trips) grouped
 * by client name and command, Lua-inner commands by command, and `frames`, the number
 * of deliveries `isFrame(command, args, lua)` recognised. MONITOR slows Redis while it
 * runs; callers leave that window out of their latency figures.
 */
export async function monitorSample(redis, ms, isFrame) {
  const names = await clientNames(redis);
  const { host, port } = redis.options;
  const socket = net.connect({ host, port });
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const topLevel = {};
  const inner = {};
  /** Top-level keys whose call carried a delivery (a frame appended inside its script, or the publish itself). */
  const carried = {};
  let roundTrips = 0;
  let frames = 0;
  let buffered = '';
  let lastKey = null;
  const from = Date.now();
  socket.setEncoding('latin1');
  socket.on('data', (chunk) => {
    buffered += chunk;
    const lines = buffered.split('\r\n');
    buffered = lines.pop();
    for (const line of lines) {
      const m = /^\+[\d.]+ \[\d+ ([^\]]+)\] (.*)$/.exec(line);
      if (!m) continue;
      const [commandArg, firstArg] = monitorArgs(m[2], 2);
      const command = String(commandArg).toLowerCase();
      if (OWN.test(command)) continue;
      const lua = m[1] === 'lua';
      // MONITOR prints a script call first, then the commands it runs: those belong to it.
      const key = lua ? lastKey : `${names[m[1].split(':').pop()] ?? 'unnamed'} ${command}${command === 'evalsha' ? ` ${String(firstArg).slice(0, 8)}` : ''}`;
      if (isFrame(command, [commandArg, firstArg], lua)) {
        frames++;
        if (key) carried[key] = (carried[key] ?? 0) + 1;
      }
      if (lua) {
        inner[command] = (inner[command] ?? 0) + 1;
        continue;
      }
      lastKey = key;
      roundTrips++;
      topLevel[key] = (topLevel[key] ?? 0) + 1;
    }
  });
  socket.write('MONITOR\r\n');
  await new Promise((r) => setTimeout(r, ms));
  const to = Date.now();
  socket.destroy();
  return { from, to, roundTrips, frames, topLevel, inner, carried };
}

/** Open (thread, socket) presence entries under `prefix`, counted in Redis. */
export async function presenceEntries(redis, prefix) {
  let cursor = '0';
  let keys = 0;
  let entries = 0;
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:thread:*:presence`, 'COUNT', 1000);
    cursor = next;
    for (const key of batch) {
      keys++;
      entries += await redis.zcard(key);
    }
  } while (cursor !== '0');
  return { threads: keys, entries };
}
