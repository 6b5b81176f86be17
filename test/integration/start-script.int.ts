import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { TEST_AUTH_SECRET, testEnv } from '../support/env';
import { eventually, httpClient } from '../support/http';

const ROOT = path.resolve(__dirname, '..', '..');

/** A port nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** `npm start` (scripts/start.mjs) against the test Redis and a database of its own. */
describe('npm start', () => {
  let db: TestDatabase;

  /** Everything `npm start` would otherwise make up or start is given: nothing is written under .data/. */
  const startEnv = (env: Record<string, string>) => ({
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    NODE_ENV: 'test',
    DATABASE_URL: db.url,
    AUTH_SECRET: TEST_AUTH_SECRET,
    ADMIN_TOKEN: 'start-script-test-admin-token',
    ...env,
  });

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('exits at once, non-zero, with the failing process’s last lines, when a process it started exits during start-up', async () => {
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'start.mjs')], {
      cwd: ROOT,
      env: startEnv({ REDIS_URL: testEnv().redisUrl, REDIS_PREFIX: `start${process.pid}`, PORT: String(await freePort()), FRAME_MS: 'abc' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let configErrorAt = 0;
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (!configErrorAt && /^\[(api|worker)\] .*FRAME_MS /m.test(output)) configErrorAt = Date.now();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    // The build comes first (seconds); the clock that matters starts when a process has failed.
    const exited = new Promise<{ code: number | null; at: number }>((resolve) => child.once('exit', (code) => resolve({ code, at: Date.now() })));
    const deadline = new Promise<never>((_, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start still running after 90 s:\n${output.slice(-3000)}`)), 90_000);
      void exited.then(() => clearTimeout(timer));
    });
    try {
      const { code, at } = await Promise.race([exited, deadline]);
      expect({ code, output: output.slice(-3000) }).toEqual({ code: 1, output: expect.stringMatching(/FRAME_MS /) });
      expect(configErrorAt).toBeGreaterThan(0);
      // Well under the 120 s readiness wait it used to sit through.
      expect(at - configErrorAt).toBeLessThan(10_000);
      // The failure names the process and repeats its last lines, the configuration error among them.
      expect(output).toMatch(/\[start\] (api|worker) exited with code 1 during start-up; its last lines:\n(.*\n)*\s+.*FRAME_MS /);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    }
  }, 120_000);

  it('-- --redis-cluster runs the API and the worker on a Redis Cluster, and an answer streams through it', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'start.mjs'), '--redis-cluster'], {
      cwd: ROOT,
      // The shared test cluster stands in for the one it would start under .data/redis-cluster.
      env: startEnv({ REDIS_CLUSTER_NODES: testEnv().redisClusterNodes, REDIS_PREFIX: `startc${process.pid}`, AUTH_DEV_TOKENS: '1', PORT: String(port) }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => void (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => void (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await eventually(async () => (/Ready: 1 API instance/.test(output) ? true : undefined), 'npm start to be ready', 90_000);
      expect(output).toContain(`Redis Cluster seed nodes: ${testEnv().redisClusterNodes}`);
      expect(output).toMatch(/\[api\] .*"redis":"cluster".*"msg":"listening"/);
      expect(output).toMatch(/\[worker\] .*"redis":"cluster".*"msg":"worker ready"/);
      const base = `http://127.0.0.1:${port}`;
      const { token } = (await httpClient(base).post('/api/dev/token', { userId: 'start-cluster' })).body as { token: string };
      const api = httpClient(base, token);
      const thread = (await api.post('/api/threads', { title: 'On the cluster' })).body.id as string;
      const streamId = (await api.post(`/api/threads/${thread}/messages`, { content: 'Hi [sim tokens=20 rate=200]' })).body.stream.id as string;
      const ended = await eventually(async () => {
        const s = (await api.get(`/api/streams/${streamId}`)).body as { status: string; content: string };
        return s.status === 'completed' ? s : undefined;
      }, 'the answer', 20_000);
      expect(ended.content.length).toBeGreaterThan(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    }
  }, 150_000);
});
