import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';

/** What the last answer in the open thread shows. */
export interface AnswerState {
  text: string;
  status: string;
}

/**
 * The demo chat page in its own browser context (fresh storage), driven the way a
 * person uses it: clicks and typing, then waits on what the DOM shows. Every wait is
 * a DOM condition (`waitFor`, `waitForFunction`), never a fixed delay. Page errors and
 * console errors are collected so a test can assert there were none.
 */
export class ChatPage {
  readonly problems: string[] = [];

  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
  ) {}

  /** Opens `/`, as `userId` when given (`?user=`: the page gets its own dev token for that user). */
  static async open(browser: Browser, baseUrl: string, userId: string | null): Promise<ChatPage> {
    const context = await browser.newContext({ baseURL: baseUrl, viewport: { width: 1180, height: 720 } });
    context.setDefaultTimeout(15_000);
    // The page-side reader the waits below call (functions passed to the page cannot share code otherwise).
    await context.addInitScript({ content: `window.readLastAnswer = ${readLastAnswer.toString()};\n(${recordToasts.toString()})();` });
    const page = await context.newPage();
    const chat = new ChatPage(context, page);
    page.on('pageerror', (err) => chat.problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') chat.problems.push(`console: ${msg.text()}`);
    });
    await page.goto(userId === null ? '/' : `/?user=${encodeURIComponent(userId)}`);
    return chat;
  }

  /** The header says the socket is up (background mode). */
  async connected(): Promise<void> {
    await this.page.locator('#connection[data-status="connected"]').waitFor();
  }

  row(threadId: string): Locator {
    return this.page.locator(`#thread-list [data-thread-id="${threadId}"]`);
  }

  /** Clicks a thread in the list and waits until its messages are shown (history and live state in). */
  async openThread(threadId: string): Promise<void> {
    await this.row(threadId).locator('.thread-open').click();
    await this.row(threadId).locator('.thread-open[aria-current="true"]').waitFor();
    await this.page.locator('#messages:not([aria-busy])').waitFor({ state: 'attached' });
  }

  /** Types into the composer and presses Send. */
  async send(text: string): Promise<void> {
    await this.page.locator('#message-input').fill(text);
    await this.page.locator('#send').click();
  }

  async answer(): Promise<AnswerState | null> {
    return this.page.evaluate(() => (window as unknown as PageHelpers).readLastAnswer());
  }

  /** Waits until the last answer has this status and at least `minLength` characters. */
  async waitForAnswer(want: { status?: string; minLength?: number; longerThan?: number }): Promise<AnswerState> {
    const handle = await this.page.waitForFunction(
      (want) => {
        const answer = (window as unknown as PageHelpers).readLastAnswer();
        if (!answer) return null;
        if (want.status !== undefined && answer.status !== want.status) return null;
        if (answer.text.length < (want.minLength ?? 0) || answer.text.length <= (want.longerThan ?? -1)) return null;
        return answer;
      },
      want,
      { polling: 'raf' },
    );
    return (await handle.jsonValue()) as AnswerState;
  }

  /** Starts recording every state the last answer is rendered in (one entry per DOM update). */
  async recordAnswerStates(): Promise<void> {
    await this.page.evaluate(() => {
      const helpers = window as unknown as PageHelpers;
      const seen: AnswerState[] = (helpers.answerStates = []);
      new MutationObserver(() => {
        const answer = helpers.readLastAnswer();
        const last = seen[seen.length - 1];
        if (answer && (last?.text !== answer.text || last?.status !== answer.status)) seen.push(answer);
      }).observe(document.getElementById('messages') as HTMLElement, { subtree: true, childList: true, characterData: true, attributes: true });
    });
  }

  async recordedAnswerStates(): Promise<AnswerState[]> {
    return this.page.evaluate(() => (window as unknown as PageHelpers).answerStates);
  }

  toasts(): Locator {
    return this.page.locator('#toasts .toast');
  }

  /** Every toast shown since the page opened, dismissed ones included, oldest first. */
  async toastsShown(): Promise<ShownToast[]> {
    return this.page.evaluate(() => (window as unknown as PageHelpers).toastsShown);
  }

  notifications(): Locator {
    return this.page.locator('#notification-list .notification');
  }

  async close(): Promise<void> {
    await this.context.close();
  }
}

/** A toast as it appeared: which notification, under which title. */
export interface ShownToast {
  notificationId: string;
  title: string;
}

interface PageHelpers {
  readLastAnswer(): AnswerState | null;
  answerStates: AnswerState[];
  toastsShown: ShownToast[];
}

/** Runs in the page before its script: logs each toast as it is added (they dismiss themselves). */
function recordToasts(): void {
  const shown: ShownToast[] = [];
  (window as unknown as PageHelpers).toastsShown = shown;
  document.addEventListener('DOMContentLoaded', () => {
    new MutationObserver((records) => {
      for (const record of records) {
        record.addedNodes.forEach((node) => {
          if (node instanceof HTMLElement && node.classList.contains('toast')) {
            shown.push({ notificationId: node.dataset.notificationId ?? '', title: node.querySelector('strong')?.textContent ?? '' });
          }
        });
      }
    }).observe(document.getElementById('toasts') as HTMLElement, { childList: true });
  });
}

/** Runs in the page: the last assistant message's text and status, or null. */
function readLastAnswer(): AnswerState | null {
  const answers = document.querySelectorAll('#messages .message.assistant');
  const last = answers[answers.length - 1] as HTMLElement | undefined;
  if (!last) return null;
  return { text: last.querySelector('.content')?.textContent ?? '', status: last.dataset.status ?? '' };
}
