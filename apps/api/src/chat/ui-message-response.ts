import type { Response } from 'express';
import { createUIMessageStream, pipeUIMessageStreamToResponse } from 'ai';
import { UiMessageStreamEvents } from './ui-message-events';

/**
 * Answers with the AI SDK's UI message stream (SSE, `x-vercel-ai-ui-message-stream: v1`,
 * `[DONE]` at the end), written by the `ai` package's own helpers. `write` gets the
 * stream's events and a promise of the reader going away; the response ends when `write`
 * resolves. Resolves once the response is closed, with whether the reader left first.
 */
export async function answerWithUiMessageStream(
  res: Response,
  messageId: string,
  write: (ui: UiMessageStreamEvents, readerGone: Promise<void>) => Promise<unknown>,
): Promise<{ readerLeft: boolean }> {
  let written = false;
  const closed = new Promise<void>((resolve) => res.once('close', resolve));
  const stream = createUIMessageStream({
    execute: async ({ writer }) => {
      await write(new UiMessageStreamEvents(writer, messageId), closed);
      written = true;
    },
  });
  pipeUIMessageStreamToResponse({ response: res, stream });
  await closed;
  return { readerLeft: !written };
}
