import type { Browser, BrowserContext, Page, Response } from 'playwright-core';

/** What the AI SDK example page shows: the last answer's text, how many answers, and the chat's status. */
export interface AiSdkView {
  text: string;
  /** Assistant messages on the page. */
  answers: number;
  /** `chat.status`: `submitted`, `streaming`, `ready` or `error`. */
  status: string;
}

/**
 * The AI SDK example page (`/examples/ai-sdk`) in its own browser context, driven like the
 * demo page in ./chat-page.ts: typing and clicks, then waits on what the DOM shows (never a
 * fixed delay). Page errors and console errors are collected.
 */
export class AiSdkPage {
  readonly problems: string[] = [];

  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
  ) {}

  /** Opens a new chat as `userId` and waits until the page is ready. */
  static async open(browser: Browser, baseUrl: string, userId: string): Promise<AiSdkPage> {
    const context = await browser.newContext({ baseURL: baseUrl, viewport: { width: 900, height: 720 } });
    context.setDefaultTimeout(15_000);
    await context.addInitScript({ content: `window.readAiSdkView = ${readAiSdkView.toString()};` });
    const page = await context.newPage();
    const chat = new AiSdkPage(context, page);
    page.on('pageerror', (err) => chat.problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') chat.problems.push(`console: ${msg.text()}`);
    });
    await page.goto(`/examples/ai-sdk?user=${encodeURIComponent(userId)}`);
    await chat.waitFor({ status: 'ready' });
    return chat;
  }

  /** The chat id the page put in its URL (the thread id on the server). */
  chatId(): string {
    const id = new URL(this.page.url()).searchParams.get('chat');
    if (!id) throw new Error(`no chat id in ${this.page.url()}`);
    return id;
  }

  async send(text: string): Promise<void> {
    await this.page.getByTestId('input').fill(text);
    await this.page.getByTestId('send').click();
  }

  /** Reloads the page (same URL, so the same chat) and returns the page's `GET /api/chat/:id/stream` answer. */
  async reload(): Promise<Response> {
    const resumed = this.page.waitForResponse((r) => r.request().method() === 'GET' && new URL(r.url()).pathname === `/api/chat/${this.chatId()}/stream`);
    await this.page.reload();
    return resumed;
  }

  async view(): Promise<AiSdkView | null> {
    return this.page.evaluate(() => (window as unknown as PageHelpers).readAiSdkView());
  }

  /** Waits until the page shows all of `want`. */
  async waitFor(want: { status?: string; answers?: number; minLength?: number; longerThan?: number }): Promise<AiSdkView> {
    const handle = await this.page.waitForFunction(
      (want) => {
        const view = (window as unknown as PageHelpers).readAiSdkView();
        if (!view) return null;
        if (want.status !== undefined && view.status !== want.status) return null;
        if (want.answers !== undefined && view.answers !== want.answers) return null;
        if (view.text.length < (want.minLength ?? 0) || view.text.length <= (want.longerThan ?? -1)) return null;
        return view;
      },
      want,
      { polling: 'raf' },
    );
    return (await handle.jsonValue()) as AiSdkView;
  }

  async close(): Promise<void> {
    await this.context.close();
  }
}

interface PageHelpers {
  readAiSdkView(): AiSdkView | null;
}

/** Runs in the page: the last assistant message's text, the number of answers and the chat's status (null before the page renders). */
function readAiSdkView(): AiSdkView | null {
  const status = document.querySelector<HTMLElement>('[data-testid="chat-status"]');
  if (!status) return null;
  const answers = document.querySelectorAll('[data-testid="message"][data-role="assistant"]');
  const last = answers[answers.length - 1];
  return { text: last?.querySelector('[data-testid="message-text"]')?.textContent ?? '', answers: answers.length, status: status.dataset.status ?? '' };
}
