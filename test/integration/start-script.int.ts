import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { TEST_AUTH_SECRET, testEnv } from '../support/env';

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

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('exits at once, non-zero, with the failing process’s last lines, when a process it started exits during start-up', async () => {
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'start.mjs')], {
      cwd: ROOT,
      // Everything it would otherwise make up or start is given: nothing is written under .data/.
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        NODE_ENV: 'test',
        DATABASE_URL: db.url,
        REDIS_URL: testEnv().redisUrl,
        REDIS_PREFIX: `start${process.pid}`,
        AUTH_SECRET: TEST_AUTH_SECRET,
        ADMIN_TOKEN: 'start-script-test-admin-token',
        PORT: String(await freePort()),
        FRAME_MS: 'abc',
      },
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
});
