import type { ChatMessage, ThreadView, ThreadViewState } from '@bgs/client';

/** Resolves with the first view state that matches (now or later). */
export function until(view: ThreadView, match: (s: ThreadViewState) => boolean, what: string, timeoutMs = 20_000): Promise<ThreadViewState> {
  return new Promise((resolve, reject) => {
    let off: () => void = () => undefined;
    const timer = setTimeout(() => (off(), reject(new Error(`no ${what} within ${timeoutMs} ms: ${JSON.stringify(view.get().messages)}`))), timeoutMs);
    off = view.subscribe((s) => {
      if (!match(s)) return;
      clearTimeout(timer);
      queueMicrotask(() => off());
      resolve(s);
    });
  });
}

/** The latest answer a view shows. */
export const answerOf = (s: ThreadViewState): ChatMessage | undefined => s.messages.filter((m) => m.role === 'assistant').at(-1);

/** Every content a view showed for its latest answer, in order. */
export function recordAnswers(view: ThreadView): string[] {
  const seen: string[] = [];
  view.subscribe((s) => {
    const content = answerOf(s)?.content;
    if (content !== undefined && content !== seen.at(-1)) seen.push(content);
  });
  return seen;
}

/** Each content shown extends the one before: no gap, no duplicate, no rollback. */
export function expectGrowing(seen: string[]): void {
  const rollbacks = seen.filter((c, i) => i > 0 && !c.startsWith(seen[i - 1]));
  expect(rollbacks).toEqual([]);
}
