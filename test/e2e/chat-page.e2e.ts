import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { simulatedAnswer } from '@bgs/server';
import { eventually, type HttpClient } from '../support/http';
import { TestSystem } from '../support/system';
import { ChatPage } from './support/chat-page';
import { launchChromium } from './support/chromium';

const SCREENSHOTS = path.resolve(__dirname, '..', '..', 'test-output', 'screenshots');

type Api = HttpClient & { token: string };

/**
 * docs/protocol.md#what-a-chat-app-can-rely-on as a person sees it: the demo page at `/` in headless Chromium,
 * against a real API and worker. Answers are short simulated ones steered by
 * `[sim tokens=N rate=R]` in the message text.
 */
describe('the demo chat page in a browser', () => {
  let system: TestSystem;
  let browser: Browser;
  const pages: ChatPage[] = [];
  let users = 0;

  beforeAll(async () => {
    [system, browser] = await Promise.all([TestSystem.start(), launchChromium()]);
  });
  afterEach(async () => {
    const open = pages.splice(0);
    const problems = open.flatMap((p) => p.problems);
    await Promise.all(open.map((p) => p.close()));
    expect(problems).toEqual([]);
  });
  afterAll(async () => {
    await browser?.close();
    await system?.stop();
  });

  /** A new user with threads made over REST, and the page open for them. */
  async function userWithThreads(...titles: string[]): Promise<{ api: Api; chat: ChatPage; threads: string[] }> {
    const userId = `e2e-user-${++users}`;
    const api = await system.client(userId);
    const threads: string[] = [];
    for (const title of titles) {
      const res = await api.post('/api/threads', { title });
      expect(res.status).toBe(201);
      threads.push(res.body.id as string);
    }
    const chat = await ChatPage.open(browser, system.url(), userId);
    pages.push(chat);
    await chat.connected();
    return { api, chat, threads };
  }

  /** The stored answer of a thread once its stream has ended (state only visible by asking). */
  async function storedAnswer(api: Api, threadId: string) {
    return eventually(async () => {
      const items = (await api.get(`/api/threads/${threadId}/messages`)).body.items as Array<{ role: string; status: string; content: string }>;
      const answer = items.filter((m) => m.role === 'assistant').at(-1);
      return answer && answer.status !== 'streaming' ? answer : undefined;
    }, `the answer in ${threadId} to end`);
  }

  it('is served at / with its script and styles under /demo/, and nothing else there', async () => {
    const page = await fetch(`${system.url()}/`);
    expect([page.status, page.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
    expect(await page.text()).toContain('<script type="module" src="/demo/chat.js">');
    for (const [file, type] of [['chat.js', 'text/javascript; charset=utf-8'], ['chat.css', 'text/css; charset=utf-8']]) {
      const res = await fetch(`${system.url()}/demo/${file}`);
      expect([file, res.status, res.headers.get('content-type'), res.headers.get('cache-control')]).toEqual([file, 200, type, 'no-cache']);
    }
    const missing = await fetch(`${system.url()}/demo/nothing.js`);
    expect([missing.status, await missing.json()]).toEqual([404, { error: { code: 'not_found', message: 'no route GET /demo/nothing.js' } }]);
  });

  it('switching to another thread mid-stream and back shows the answer still growing, then complete', async () => {
    const { api, chat, threads } = await userWithThreads('Trip plan', 'Groceries');
    const [trip, groceries] = threads;
    // 8 s: long enough to be back well before the end, even on a busy machine.
    const content = 'Plan a weekend in Lisbon [sim tokens=160 rate=20]';

    await chat.openThread(trip);
    await chat.send(content);
    await chat.waitForAnswer({ status: 'streaming', minLength: 150 });
    expect(await chat.row(trip).getAttribute('data-streaming')).toBe('');
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    await chat.page.screenshot({ path: path.join(SCREENSHOTS, 'mid-stream.png') });

    // Away: the other thread is shown, the list still says the trip is being answered.
    await chat.openThread(groceries);
    expect(await chat.answer()).toBeNull();
    await chat.row(trip).locator('.streaming-indicator').waitFor({ state: 'visible' });
    expect(await chat.row(trip).ariaSnapshot()).toBe('- listitem:\n  - button "Trip plan (answering)"\n  - button "Mute Trip plan"');

    // Back before the end: the text is there at once and keeps growing live.
    await chat.openThread(trip);
    const back = await chat.waitForAnswer({ status: 'streaming', minLength: 1 });
    const grown = await chat.waitForAnswer({ status: 'streaming', longerThan: back.text.length });
    expect(grown.text.startsWith(back.text)).toBe(true);

    const done = await chat.waitForAnswer({ status: 'complete' });
    const expected = simulatedAnswer(content, 160).join('');
    expect(done.text).toBe(expected);
    expect((await storedAnswer(api, trip)).content).toBe(expected);
    await chat.row(trip).locator('.streaming-indicator').waitFor({ state: 'hidden' });
    await chat.page.locator('#send:not([disabled])').waitFor();
  });

  it('coming back after the answer ended shows the whole answer at once', async () => {
    const { api, chat, threads } = await userWithThreads('Essay', 'Other');
    const [essay, other] = threads;
    const content = 'Write about rivers [sim tokens=40 rate=20]';

    await chat.openThread(essay);
    await chat.send(content);
    await chat.waitForAnswer({ status: 'streaming', minLength: 1 });
    await chat.openThread(other);
    // The essay ends while nobody looks at it: its notification says so.
    await chat.toasts().filter({ hasText: 'Essay' }).waitFor();
    const expected = simulatedAnswer(content, 40).join('');
    expect((await storedAnswer(api, essay)).content).toBe(expected);

    await chat.recordAnswerStates();
    await chat.openThread(essay);
    expect(await chat.waitForAnswer({ status: 'complete' })).toEqual({ text: expected, status: 'complete' });
    // The first thing rendered was the whole answer: no replay, no partial text first.
    expect(await chat.recordedAnswerStates()).toEqual([{ text: expected, status: 'complete' }]);
  });

  it('leaving a thread while it answers brings exactly one notification, read when the thread is opened', async () => {
    const { api, chat, threads } = await userWithThreads('Recipe', 'Elsewhere', 'Control');
    const [recipe, elsewhere, control] = threads;

    await chat.openThread(recipe);
    await chat.send('A soup recipe [sim tokens=40 rate=20]');
    await chat.waitForAnswer({ status: 'streaming', minLength: 1 });
    await chat.openThread(elsewhere);

    const toast = chat.toasts().filter({ hasText: 'Recipe' });
    await toast.waitFor();
    await chat.row(recipe).locator('.badge:not([hidden]) [aria-hidden="true"]').filter({ hasText: /^1$/ }).waitFor();
    expect(await chat.row(recipe).locator('.thread-open').ariaSnapshot()).toBe('- button "Recipe (1 unread)"');
    await chat.row(recipe).locator('.streaming-indicator').waitFor({ state: 'hidden' });
    await chat.page.locator('#notification-count').filter({ hasText: '1' }).waitFor();

    // A later answer in another thread is notified too: by then the recipe's has been decided.
    await chat.openThread(control);
    await chat.send('Another one [sim tokens=30 rate=20]');
    await chat.waitForAnswer({ status: 'streaming', minLength: 1 });
    await chat.openThread(elsewhere);
    await chat.toasts().filter({ hasText: 'Control' }).waitFor();

    expect((await chat.toastsShown()).map((t) => t.title)).toEqual(['Recipe', 'Control']);
    await chat.page.locator('#notifications-toggle').click();
    expect(await chat.notifications().locator('strong').allTextContents()).toEqual(['Control', 'Recipe']);
    const listed = (await api.get('/api/notifications')).body.items as Array<{ threadId: string; type: string; readAt: string | null }>;
    expect(listed.filter((n) => n.threadId === recipe).map((n) => n.type)).toEqual(['ai.message.received']);

    // Opening the thread reads its notification: the badge goes, the server knows.
    await chat.openThread(recipe);
    await chat.row(recipe).locator('.badge').waitFor({ state: 'hidden' });
    await eventually(async () => {
      const items = (await api.get('/api/notifications?unread=true')).body.items as Array<{ threadId: string }>;
      return items.some((n) => n.threadId === recipe) ? undefined : items;
    }, 'the recipe notification to be read');
  });

  it('a muted thread ends without a notification', async () => {
    const { api, chat, threads } = await userWithThreads('Quiet', 'Elsewhere', 'Control');
    const [quiet, elsewhere, control] = threads;

    const mute = chat.row(quiet).locator('.thread-mute');
    expect(await mute.getAttribute('aria-pressed')).toBe('false');
    await mute.click();
    await chat.row(quiet).locator('.thread-mute[aria-pressed="true"]').waitFor();
    expect(await chat.row(quiet).ariaSnapshot()).toBe('- listitem:\n  - button "Quiet"\n  - button "Mute Quiet" [pressed]');
    expect((await api.get(`/api/threads/${quiet}`)).body.muted).toBe(true);

    await chat.openThread(quiet);
    await chat.send('Keep it down [sim tokens=30 rate=20]');
    await chat.waitForAnswer({ status: 'streaming', minLength: 1 });
    await chat.openThread(elsewhere);
    await storedAnswer(api, quiet);

    // The control, unmuted and left the same way, is notified after the muted one ended.
    await chat.openThread(control);
    await chat.send('Speak up [sim tokens=30 rate=20]');
    await chat.waitForAnswer({ status: 'streaming', minLength: 1 });
    await chat.openThread(elsewhere);
    await chat.toasts().filter({ hasText: 'Control' }).waitFor();

    expect((await chat.toastsShown()).map((t) => t.title)).toEqual(['Control']);
    await chat.row(quiet).locator('.streaming-indicator').waitFor({ state: 'hidden' });
    expect(await chat.row(quiet).locator('.badge').isHidden()).toBe(true);
    const listed = (await api.get('/api/notifications')).body.items as Array<{ threadId: string }>;
    expect(listed.map((n) => n.threadId)).toEqual([control]);
  });

  it('the stop button ends the answer and keeps what was written', async () => {
    const { api, chat, threads } = await userWithThreads('Long story');
    const [story] = threads;
    const content = 'Tell me everything [sim tokens=400 rate=20]';

    await chat.openThread(story);
    const stop = chat.page.locator('#stop');
    expect(await stop.isDisabled()).toBe(true);
    await chat.send(content);
    await chat.waitForAnswer({ status: 'streaming', minLength: 20 });
    await stop.click();

    const stopped = await chat.waitForAnswer({ status: 'cancelled' });
    expect(await chat.page.locator('#messages .message.assistant .status').last().textContent()).toBe('stopped');
    const stored = await storedAnswer(api, story);
    expect(stored).toMatchObject({ status: 'cancelled', content: stopped.text });
    const full = simulatedAnswer(content, 400).join('');
    expect(full.startsWith(stopped.text) && stopped.text.length < full.length).toBe(true);
    await chat.page.locator('#send:not([disabled])').waitFor();
    expect(await stop.isDisabled()).toBe(true);
    await chat.row(story).locator('.streaming-indicator').waitFor({ state: 'hidden' });
  });

  it('a thread deleted in another tab says so in words, leaves the list, and takes no more messages', async () => {
    const { api, chat, threads } = await userWithThreads('Short-lived', 'Stays');
    const [doomed, stays] = threads;
    await chat.openThread(doomed);
    await chat.send('Write on and on [sim tokens=400 rate=20]');
    await chat.waitForAnswer({ status: 'streaming', minLength: 1 });

    // Another tab (here: a REST call of the same user) deletes it.
    expect((await api.delete(`/api/threads/${doomed}`)).status).toBe(204);
    const notice = chat.page.locator('#thread-status');
    await notice.filter({ hasText: 'This chat was deleted (here or in another tab).' }).waitFor();
    expect(await notice.getAttribute('data-kind')).toBe('gone');
    await chat.row(doomed).waitFor({ state: 'detached' });
    await chat.page.locator('#composer').waitFor({ state: 'hidden' });
    // What was written stays on screen, stopped.
    expect((await chat.answer())?.status).toBe('cancelled');
    expect(await chat.page.locator('#connection').getAttribute('data-status')).toBe('connected');

    // The other thread is untouched and works.
    await chat.openThread(stays);
    expect(await notice.isHidden()).toBe(true);
    await chat.send('Still here? [sim tokens=5 rate=100]');
    await chat.waitForAnswer({ status: 'complete' });
  });

  it('a new chat made on the page is named after its first message', async () => {
    const { chat } = await userWithThreads();
    await chat.page.locator('#new-thread').click();
    await chat.page.locator('#thread-list .thread-open[aria-current="true"]').waitFor();
    await chat.send('Name ideas for a cat [sim tokens=5 rate=100]');
    await chat.waitForAnswer({ status: 'complete' });
    await chat.page.locator('#thread-title').filter({ hasText: 'Name ideas for a cat' }).waitFor();
    expect(await chat.page.locator('#thread-list .thread-title').allTextContents()).toEqual(['Name ideas for a cat']);
  });
});

/** With dev tokens off the page cannot make its own token: it asks for one. */
describe('the demo chat page without dev tokens', () => {
  let system: TestSystem;
  let browser: Browser;
  let chat: ChatPage | null = null;

  beforeAll(async () => {
    [system, browser] = await Promise.all([TestSystem.start({ workers: 0, env: { AUTH_DEV_TOKENS: '0' } }), launchChromium()]);
  });
  afterAll(async () => {
    await chat?.close();
    await browser?.close();
    await system?.stop();
  });

  it('asks for a token, refuses a bad one, and opens with a good one', async () => {
    const { signToken } = await import('../../apps/api/src/auth/tokens');
    const { TEST_AUTH_SECRET } = await import('../support/env');
    chat = await ChatPage.open(browser, system.url(), null);
    const form = chat.page.locator('#sign-in');
    await form.waitFor();

    await chat.page.locator('#token-input').fill('not-a-token');
    await form.locator('button[type="submit"]').click();
    await chat.page.locator('#sign-in-problem').filter({ hasText: 'refused' }).waitFor();

    await chat.page.locator('#token-input').fill(signToken('pasted-user', TEST_AUTH_SECRET));
    await form.locator('button[type="submit"]').click();
    await form.waitFor({ state: 'hidden' });
    await chat.connected();
    await chat.page.locator('#user').filter({ hasText: 'Signed in with a token' }).waitFor();
    // The browser logs the refused token (401) and the missing dev-token route (404) as failed requests; nothing else went wrong.
    expect(chat.problems.filter((p) => !/status of (401|404)/.test(p))).toEqual([]);
  });
});

/**
 * The page served by a static host with no API behind it (the same built files, and a
 * 404 page for everything else, /api included): it says so instead of failing.
 */
describe('the demo chat page without a chat server', () => {
  let browser: Browser;
  let host: http.Server;
  let url = '';
  let chat: ChatPage | null = null;
  const DIST = path.resolve(__dirname, '..', '..', 'dist', 'demo');

  beforeAll(async () => {
    const files: Record<string, [string, string]> = {
      '/': ['index.html', 'text/html; charset=utf-8'],
      '/demo/chat.js': ['chat.js', 'text/javascript; charset=utf-8'],
      '/demo/chat.css': ['chat.css', 'text/css; charset=utf-8'],
    };
    host = http.createServer((req, res) => {
      const file = files[new URL(req.url ?? '/', 'http://x').pathname];
      if (!file) return void res.writeHead(404, { 'content-type': 'text/html' }).end('<!doctype html><h1>Not found</h1>');
      res.writeHead(200, { 'content-type': file[1] }).end(fs.readFileSync(path.join(DIST, file[0])));
    });
    await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(host.address() as AddressInfo).port}`;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await chat?.close();
    await browser?.close();
    host?.closeAllConnections();
    await new Promise<void>((resolve) => host?.close(() => resolve()));
  });

  it('says the chat server cannot be reached, and asks for no sign-in', async () => {
    chat = await ChatPage.open(browser, url, 'static-user');
    await chat.page.locator('#connection[data-status="unavailable"]').filter({ hasText: 'No chat server' }).waitFor();
    await chat.page.locator('#pane-problem').filter({ hasText: 'The chat server cannot be reached from this page' }).waitFor();
    expect(await chat.page.locator('#sign-in').isHidden()).toBe(true);
    expect(await chat.page.locator('#new-thread').isDisabled()).toBe(true);
    // The one failed request is the capabilities read (the browser logs its 404); nothing else went wrong.
    expect(chat.problems.filter((p) => !/status of 404/.test(p))).toEqual([]);
  });
});
