// Local Redis and Postgres for `npm start` and `npm test`, on loopback ports found free,
// reused when already running. Plain Node (no dependencies) so it works before `npm ci`.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const isRoot = process.getuid?.() === 0;

/** A port the kernel says is free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** Installs Debian packages when a binary is missing (root only; otherwise says what to run). */
export function ensureDebianPackage(binary, pkg, log = console.log) {
  if (which(binary)) return;
  if (!isRoot) throw new Error(`${binary} is missing: run 'sudo apt-get install -y ${pkg}'`);
  log(`installing ${pkg} from Debian (apt-get)…`);
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', pkg], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

function redisPing(port) {
  const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'PING'], { encoding: 'utf8', timeout: 2000 });
  return r.status === 0 && r.stdout.trim() === 'PONG';
}

/**
 * Starts (or reuses) a redis-server under `dir`, AOF on and `noeviction` as BullMQ needs.
 * The port is remembered in `dir/port` so a second call finds the running server.
 */
export async function ensureRedis(dir, log = console.log) {
  dir = path.resolve(dir);
  ensureDebianPackage('redis-server', 'redis-server', log);
  fs.mkdirSync(dir, { recursive: true });
  const portFile = path.join(dir, 'port');
  if (fs.existsSync(portFile)) {
    const port = Number(fs.readFileSync(portFile, 'utf8'));
    if (redisPing(port)) return { url: `redis://127.0.0.1:${port}`, port, reused: true };
  }
  const port = await freePort();
  execFileSync('redis-server', [
    '--bind', '127.0.0.1', '--port', String(port), '--dir', dir,
    '--appendonly', 'yes', '--maxmemory-policy', 'noeviction', '--save', '',
    '--daemonize', 'yes', '--pidfile', path.join(dir, 'redis.pid'), '--logfile', path.join(dir, 'redis.log'),
  ]);
  for (let i = 0; i < 100 && !redisPing(port); i++) await sleep(50);
  if (!redisPing(port)) throw new Error(`redis-server did not answer on port ${port}; see ${dir}/redis.log`);
  fs.writeFileSync(portFile, String(port));
  log(`redis started on 127.0.0.1:${port} (${dir})`);
  return { url: `redis://127.0.0.1:${port}`, port, reused: false };
}

export function stopRedis(dir) {
  const pidFile = path.join(dir, 'redis.pid');
  if (!fs.existsSync(pidFile)) return;
  try { process.kill(Number(fs.readFileSync(pidFile, 'utf8')), 'SIGTERM'); } catch { /* already gone */ }
}

/** The directory holding initdb, pg_ctl and postgres (Debian's 15 first). */
export function postgresBinDir(log = console.log) {
  const candidates = ['/usr/lib/postgresql/15/bin'];
  try {
    for (const v of fs.readdirSync('/usr/lib/postgresql').sort().reverse()) candidates.push(`/usr/lib/postgresql/${v}/bin`);
  } catch { /* none installed */ }
  const found = candidates.find((d) => fs.existsSync(path.join(d, 'initdb')));
  if (found) return found;
  ensureDebianPackage('/usr/lib/postgresql/15/bin/initdb', 'postgresql-15', log);
  return '/usr/lib/postgresql/15/bin';
}

/** True when every directory on the way to `dir` lets "other" users through (the postgres user needs that). */
function reachableByOthers(dir) {
  let current = path.resolve(dir);
  for (;;) {
    const parent = path.dirname(current);
    if (fs.existsSync(current) && (fs.statSync(current).mode & 0o001) === 0) return false;
    if (parent === current) return true;
    current = parent;
  }
}

/**
 * Where the Postgres cluster lives: `<repo>/.data/postgres` unless we run as root and
 * the postgres user cannot reach it (a clone under /root), then a per-repo directory in /var/tmp.
 */
function postgresDataRoot(dataDir) {
  const preferred = path.join(dataDir, 'postgres');
  if (!isRoot || reachableByOthers(dataDir)) return preferred;
  const hash = createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 12);
  const fallback = `/var/tmp/bgs-postgres-${hash}`;
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(path.join(dataDir, 'postgres-location.txt'), `${fallback}\n(the postgres user cannot reach ${preferred})\n`);
  return fallback;
}

function postgresUid() {
  return Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
}

function asPostgresUser(bin, args, options = {}) {
  const [cmd, argv] = isRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  return execFileSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
}

function pgIsRunning(binDir, pgdata) {
  try {
    asPostgresUser(path.join(binDir, 'pg_ctl'), ['status', '-D', pgdata]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts (or reuses) a local Postgres cluster on 127.0.0.1 with trust auth for loopback.
 * Returns a function that builds a connection URL for a database name.
 */
export async function ensurePostgres(dataDir, log = console.log) {
  dataDir = path.resolve(dataDir);
  const binDir = postgresBinDir(log);
  const root = postgresDataRoot(dataDir);
  const pgdata = path.join(root, 'data');
  const sockDir = path.join(root, 'sock');
  const portFile = path.join(root, 'port');
  fs.mkdirSync(root, { recursive: true });
  fs.mkdirSync(sockDir, { recursive: true });
  // Only when needed: a recursive chown of a live cluster races with databases being dropped.
  if (isRoot && fs.statSync(root).uid !== postgresUid()) execFileSync('chown', ['-R', 'postgres:postgres', root]);

  if (!fs.existsSync(path.join(pgdata, 'PG_VERSION'))) {
    log(`initdb ${pgdata}…`);
    asPostgresUser(path.join(binDir, 'initdb'), ['-D', pgdata, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-instructions']);
  }
  let port = fs.existsSync(portFile) ? Number(fs.readFileSync(portFile, 'utf8')) : 0;
  if (!(port && pgIsRunning(binDir, pgdata) && (await canConnect(port)))) {
    if (pgIsRunning(binDir, pgdata)) asPostgresUser(path.join(binDir, 'pg_ctl'), ['stop', '-D', pgdata, '-m', 'fast', '-w']);
    port = await freePort();
    const opts = [
      `-c listen_addresses=127.0.0.1`, `-p ${port}`, `-k ${sockDir}`,
      `-c max_connections=400`, `-c shared_buffers=128MB`,
      `-c shared_preload_libraries=pg_stat_statements`,
    ].join(' ');
    asPostgresUser(path.join(binDir, 'pg_ctl'), ['start', '-D', pgdata, '-l', path.join(root, 'postgres.log'), '-o', opts, '-w', '-t', '60']);
    fs.writeFileSync(portFile, String(port));
    if (isRoot) execFileSync('chown', ['postgres:postgres', portFile]);
    log(`postgres started on 127.0.0.1:${port} (${pgdata})`);
  }
  return {
    port,
    root,
    psql: fs.existsSync(path.join(binDir, 'psql')) ? path.join(binDir, 'psql') : 'psql',
    url: (database) => `postgresql://postgres@127.0.0.1:${port}/${database}`,
    stop: () => asPostgresUser(path.join(binDir, 'pg_ctl'), ['stop', '-D', pgdata, '-m', 'fast', '-w']),
  };
}

/** Creates `database` when missing, through psql on the admin database. */
export function ensureDatabase(pg, database) {
  const psql = (sql, db = 'postgres') =>
    execFileSync(pg.psql, [pg.url(db), '-tAc', sql], { encoding: 'utf8' }).trim();
  if (psql(`SELECT 1 FROM pg_database WHERE datname = '${database}'`) !== '1') {
    psql(`CREATE DATABASE "${database}"`);
  }
  return pg.url(database);
}
