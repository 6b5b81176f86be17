import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { simulatedAnswer } from '@bgs/server';
import { TestSystem } from '../support/system';

const ROOT = path.resolve(__dirname, '..', '..');
const WORK = path.join(ROOT, 'test-output', 'bundle-check');

interface Bundled {
  violations: string[];
  inputs: string[];
}

/** Runs scripts/build.mjs's browser bundling (ESM, so in a child process) on `entry`. */
function bundle(entry: string): Bundled {
  const outfile = path.join(WORK, `${path.basename(entry, '.ts')}.js`);
  const script = `
    const { buildBrowserBundle, browserBundleViolations } = await import('./scripts/build.mjs');
    const { metafile } = await buildBrowserBundle({ entry: ${JSON.stringify(entry)}, outfile: ${JSON.stringify(outfile)} });
    console.log(JSON.stringify({ violations: browserBundleViolations(metafile), inputs: Object.keys(metafile.inputs) }));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop() as string) as Bundled;
}

function throwaway(name: string, source: string): string {
  fs.mkdirSync(WORK, { recursive: true });
  const file = path.join(WORK, name);
  fs.writeFileSync(file, source);
  return file;
}

/** docs/protocol.md#client-library: the browser client carries no server-only code and no Node built-ins. */
describe('the browser bundle of libs/client', () => {
  it('the shipped dist/client/bgs-client.js holds only browser-safe code', async () => {
    // Written by the build that `npm test` (or the jest global setup) ran first.
    const metafilePath = path.join(ROOT, 'dist', 'client', 'bgs-client.meta.json');
    expect(fs.existsSync(path.join(ROOT, 'dist', 'client', 'bgs-client.js'))).toBe(true);
    const metafile = JSON.parse(fs.readFileSync(metafilePath, 'utf8'));
    const script = `
      const { browserBundleViolations } = await import('./scripts/build.mjs');
      const metafile = JSON.parse(await (await import('node:fs')).promises.readFile(${JSON.stringify(metafilePath)}, 'utf8'));
      console.log(JSON.stringify(browserBundleViolations(metafile)));`;
    const violations = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' }).trim());
    expect(violations).toEqual([]);
    // It is the real client (not an empty bundle that passes trivially).
    const inputs = Object.keys(metafile.inputs);
    expect(inputs).toEqual(expect.arrayContaining(['libs/client/src/index.ts', 'libs/client/src/realtime-transport.ts', 'libs/shared/src/resume-rule.ts']));
    expect(inputs.some((i) => i.includes('node_modules/socket.io-client/'))).toBe(true);
    expect(inputs.filter((i) => /bullmq|ioredis|@prisma|express|libs\/server|apps\//.test(i))).toEqual([]);
  });

  it('a fresh bundle of the client entry passes the same check', () => {
    const { violations, inputs } = bundle(path.join(ROOT, 'libs', 'client', 'src', 'index.ts'));
    expect(violations).toEqual([]);
    expect(inputs).toContain('libs/client/src/chat-client.ts');
  });

  it('the check catches a server package (ioredis) and the Node built-ins it needs', () => {
    const entry = throwaway('imports-ioredis.ts', `export * from '../../libs/client/src/index';\nexport { Redis } from 'ioredis';\n`);
    const { violations } = bundle(entry);
    expect(violations.some((v) => /server-only package ioredis/.test(v))).toBe(true);
    expect(violations.some((v) => /imports Node built-in (node:)?(net|tls|crypto)/.test(v))).toBe(true);
  });

  it('the check catches server code of ours and a direct Node built-in import', () => {
    const entry = throwaway(
      'imports-server.ts',
      `import { readFileSync } from 'node:fs';\nexport { redisKeys } from '../../libs/server/src/redis/keys';\nexport const read = readFileSync;\n`,
    );
    const { violations } = bundle(entry);
    expect(violations).toEqual(expect.arrayContaining([expect.stringMatching(/libs\/server\/src\/redis\/keys\.ts: server code/), expect.stringMatching(/imports Node built-in node:fs/)]));
  });
});

/**
 * The shipped bundle really runs where there is no Node-only API: loaded as an ES module
 * with only browser globals in use (fetch, WebSocket, TextDecoder), it streams an answer
 * over the socket transport from a real API and worker.
 */
describe('the browser bundle at run time', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await TestSystem.start({ env: { FRAME_MS: '20' } });
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('streams an answer through the socket transport using browser globals only', async () => {
    const api = await system.client('bundle-user');
    const thread = (await api.post('/api/threads', { title: 'Bundle' })).body.id as string;
    const content = 'From the bundle [sim tokens=30 rate=300]';
    const script = `
      const { createChatClient } = await import(process.env.BUNDLE_URL);
      const client = await createChatClient({ baseUrl: process.env.BASE_URL, token: process.env.TOKEN });
      const view = client.openThread(process.env.THREAD);
      await view.ready;
      const done = new Promise((resolve) => view.subscribe((s) => {
        const last = s.messages.at(-1);
        if (last?.role === 'assistant' && last.status === 'complete') resolve(last);
      }));
      await client.send(process.env.THREAD, process.env.CONTENT);
      const answer = await done;
      console.log(JSON.stringify({ mode: client.mode, connection: client.connection(), content: answer.content }));
      client.close();`;
    // Node 20 has WebSocket as a browser-style global only behind this flag.
    const { stdout } = await promisify(execFile)(process.execPath, ['--experimental-websocket', '--no-warnings', '--input-type=module', '-e', script], {
      cwd: ROOT,
      timeout: 30_000,
      env: {
        PATH: process.env.PATH ?? '',
        BUNDLE_URL: pathToFileURL(path.join(ROOT, 'dist', 'client', 'bgs-client.js')).href,
        BASE_URL: system.url(),
        TOKEN: api.token,
        THREAD: thread,
        CONTENT: content,
      },
    });
    expect(JSON.parse(stdout.trim().split('\n').pop() as string)).toEqual({
      mode: 'background',
      connection: 'connected',
      content: simulatedAnswer(content, 30).join(''),
    });
  });
});
