import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

/** docs/protocol.md#client-library: the demo page's script (its own code plus libs/client) holds only browser-safe code. */
describe('the demo page bundle', () => {
  it('dist/demo/chat.js holds the page, the client and socket.io-client, and nothing server-side', () => {
    // Written by the build that `npm test` (or the jest global setup) ran first.
    expect(fs.existsSync(path.join(ROOT, 'dist', 'demo', 'chat.js'))).toBe(true);
    const script = `
      const { browserBundleViolations, demoPage } = await import('./scripts/build.mjs');
      const metafile = JSON.parse((await import('node:fs')).readFileSync(demoPage.metafilePath, 'utf8'));
      console.log(JSON.stringify({ violations: browserBundleViolations(metafile, { sources: demoPage.sources }), inputs: Object.keys(metafile.inputs) }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    const { violations, inputs } = JSON.parse(out.trim().split('\n').pop() as string) as { violations: string[]; inputs: string[] };
    expect(violations).toEqual([]);
    expect(inputs).toEqual(expect.arrayContaining(['apps/api/src/demo/page/chat-page.client.ts', 'libs/client/src/chat-client.ts', 'libs/shared/src/resume-rule.ts']));
    expect(inputs.some((i) => i.includes('node_modules/socket.io-client/'))).toBe(true);
    // Of the API app, only the page's own folder.
    expect(inputs.filter((i) => i.startsWith('apps/') && !i.startsWith('apps/api/src/demo/page/'))).toEqual([]);
  });
});
