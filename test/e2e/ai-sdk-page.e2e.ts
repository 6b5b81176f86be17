import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { simulatedAnswer } from '@bgs/server';
import { eventually, type HttpClient } from '../support/http';
import { TestSystem } from '../support/system';
import { AiSdkPage } from './support/ai-sdk-page';
import { launchChromium } from './support/chromium';

const ROOT = path.resolve(__dirname, '..', '..');
const SCREENSHOTS = path.join(ROOT, 'test-output', 'screenshots');

interface StoredMessage {
  id: string;
  role: string;
  content: string;
  status: string;
  streamId?: string;
}

/**
 * The AI SDK example page (`/examples/ai-sdk`: @ai-sdk/vue's Chat with DefaultChatTransport
 * on POST /api/chat, resuming on load) in headless Chromium, against a real API and worker.
 * A reload mid-answer resumes it; Stop stops the generation on the server.
 */
describe('the AI SDK example page in a browser', () => {
  let system: TestSystem;
  let browser: Browser;
  let api: HttpClient;
  let chat: AiSdkPage | undefined;

  beforeAll(async () => {
    [system, browser] = await Promise.all([TestSystem.start(), launchChromium()]);
    api = await system.client('ai-sdk-user');
  });
  afterEach(() => {
    expect(chat?.problems.splice(0) ?? []).toEqual([]);
  });
  afterAll(async () => {
    await chat?.close();
    await browser?.close();
    await system?.stop();
  });

  /** The page, opened on a new chat by the first test that needs it; the next ones go on in that chat. */
  async function page(): Promise<AiSdkPage> {
    return (chat ??= await AiSdkPage.open(browser, system.url(), 'ai-sdk-user'));
  }

  /** The chat's last stored answer once it has ended. */
  async function storedAnswer(chatId: string): Promise<StoredMessage> {
    return eventually(async () => {
      const items = (await api.get(`/api/threads/${chatId}/messages`)).body.items as StoredMessage[];
      const answer = items.filter((m) => m.role === 'assistant').at(-1);
      return answer && answer.status !== 'streaming' ? answer : undefined;
    }, `the answer in chat ${chatId} to end`);
  }

  it('is served at /examples/ai-sdk with its script and styles below it', async () => {
    const page = await fetch(`${system.url()}/examples/ai-sdk`);
    expect([page.status, page.headers.get('content-type'), page.headers.get('cache-control')]).toEqual([200, 'text/html; charset=utf-8', 'no-cache']);
    expect(await page.text()).toContain('<script type="module" src="/examples/ai-sdk/chat-example.js">');
    for (const [file, type] of [['chat-example.js', 'text/javascript; charset=utf-8'], ['chat-example.css', 'text/css; charset=utf-8']]) {
      const res = await fetch(`${system.url()}/examples/ai-sdk/${file}`);
      expect([file, res.status, res.headers.get('content-type'), res.headers.get('cache-control')]).toEqual([file, 200, type, 'no-cache']);
    }
    const missing = await fetch(`${system.url()}/examples/ai-sdk/nothing.js`);
    expect([missing.status, await missing.json()]).toEqual([404, { error: { code: 'not_found', message: 'no route GET /examples/ai-sdk/nothing.js' } }]);
  });

  it('its bundle holds the page, Vue and the AI SDK, and nothing server-side', () => {
    const script = `
      const { browserBundleViolations, aiSdkExamplePage } = await import('./scripts/build.mjs');
      const metafile = JSON.parse((await import('node:fs')).readFileSync(aiSdkExamplePage.metafilePath, 'utf8'));
      const output = Object.values(metafile.outputs).find((o) => o.entryPoint);
      const bundled = Object.entries(output.inputs).filter(([, i]) => i.bytesInOutput > 0).map(([name]) => name);
      console.log(JSON.stringify({ violations: browserBundleViolations(metafile, aiSdkExamplePage), inputs: Object.keys(metafile.inputs), bundled }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    const { violations, inputs, bundled } = JSON.parse(out.trim().split('\n').pop() as string) as { violations: string[]; inputs: string[]; bundled: string[] };
    expect(violations).toEqual([]);
    expect(inputs.filter((i) => !i.includes('node_modules/'))).toEqual(['apps/api/src/examples/ai-sdk/chat-example.client.ts']);
    for (const pkg of ['@vue/runtime-core', '@ai-sdk/vue', 'ai']) expect([pkg, bundled.some((i) => i.includes(`node_modules/${pkg}/`))]).toEqual([pkg, true]);
    // Imported by `ai`, tree-shaken out of the page.
    expect(bundled.filter((i) => /node_modules\/(@ai-sdk\/gateway|@vercel\/oidc|@opentelemetry\/api)\//.test(i))).toEqual([]);
  });

  it('a reload mid-answer resumes the answer, which ends as stored', async () => {
    const chat = await page();
    const chatId = chat.chatId();
    expect(chatId).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    // 10 s: time enough to reload well before the end.
    const content = 'Plan a weekend in Lisbon [sim tokens=200 rate=20]';
    await chat.send(content);
    const before = await chat.waitFor({ status: 'streaming', answers: 1, minLength: 20 });

    const resumed = await chat.reload();
    expect(chat.chatId()).toBe(chatId);
    expect([resumed.status(), resumed.headers()['content-type']]).toEqual([200, 'text/event-stream']);
    // The history shows the text so far, then the resumed stream carries it on, live.
    const shown = await chat.waitFor({ answers: 1, minLength: before.text.length });
    expect(shown.text.startsWith(before.text)).toBe(true);
    const grown = await chat.waitFor({ status: 'streaming', longerThan: shown.text.length });
    expect(grown.text.startsWith(shown.text)).toBe(true);
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    await chat.page.screenshot({ path: path.join(SCREENSHOTS, 'ai-sdk-resumed.png') });

    const done = await chat.waitFor({ status: 'ready' });
    const stored = await storedAnswer(chatId);
    expect(stored.status).toBe('complete');
    expect(done.text).toBe(stored.content);
    expect(stored.content).toBe(simulatedAnswer(content, 200).join(''));
    expect((await chat.view())?.answers).toBe(1);
  });

  it('Stop ends the generation on the server and the text stops where it was', async () => {
    const chat = await page();
    const answersBefore = (await chat.view())?.answers ?? 0;
    const chatId = chat.chatId();
    const content = 'Tell me everything [sim tokens=400 rate=20]';
    await chat.send(content);
    await chat.waitFor({ status: 'streaming', answers: answersBefore + 1, minLength: 20 });

    const deleted = chat.page.waitForResponse((r) => r.request().method() === 'DELETE' && new URL(r.url()).pathname === `/api/chat/${chatId}/stream`);
    await chat.page.getByTestId('stop').click();
    expect((await deleted).status()).toBe(204);
    const stopped = await chat.waitFor({ status: 'ready', answers: answersBefore + 1 });

    const stored = await storedAnswer(chatId);
    expect(stored.status).toBe('cancelled');
    const stream = (await api.get(`/api/streams/${stored.streamId}`)).body as { status: string; content: string };
    expect(stream).toMatchObject({ status: 'cancelled', content: stored.content });
    const full = simulatedAnswer(content, 400).join('');
    // The server may have written a little more between the disconnect and the cancel.
    expect(stored.content.startsWith(stopped.text) && full.startsWith(stored.content) && stored.content.length < full.length).toBe(true);
    expect((await api.get(`/api/threads/${chatId}`)).body.activeStreamId).toBeNull();
    // The generation is over: nothing more reaches the page.
    expect(await chat.view()).toEqual(stopped);
    await chat.page.locator('[data-testid="send"]:not([disabled])').waitFor();

    // A reload shows the stored partial answer, marked stopped; nothing is running to resume (204).
    const resumed = await chat.reload();
    expect(resumed.status()).toBe(204);
    const reloaded = await chat.waitFor({ status: 'ready', answers: answersBefore + 1, minLength: stored.content.length });
    expect(reloaded).toEqual({ text: stored.content, answers: answersBefore + 1, status: 'ready' });
    await chat.page.locator('[data-testid="message"][data-role="assistant"] .tag').filter({ hasText: 'stopped' }).waitFor();
  });
});
