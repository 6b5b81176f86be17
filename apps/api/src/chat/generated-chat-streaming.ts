import type { CancelSignals } from '@bgs/server';
import { generateHere, type DirectPorts } from '../direct/streamed-delivery';
import type { ChatStreaming } from './chat-streaming';
import { answerWithUiMessageStream } from './ui-message-response';

/**
 * Direct mode (BACKGROUND_STREAMING=false): the generation runs in the POST itself, its
 * events written as the UI message stream. There is nothing to resume (GET answers 204);
 * `DELETE /api/chat/:id/stream` stops it through the in-memory live buffer. A disconnect
 * does not stop it, as in background mode: the answer is stored whole.
 */
export function generatedChatStreaming(ports: DirectPorts, cancels: CancelSignals): ChatStreaming {
  return {
    accept: () => undefined,
    async deliver(turn, res) {
      const { stream } = turn;
      let generation: Promise<unknown> = Promise.resolve();
      await answerWithUiMessageStream(res, stream.messageId, (ui) => (generation = generateHere(ports, cancels, stream, ui)));
      // A reader that left does not stop the generation: it runs (and stays cancellable) to its end.
      await generation;
    },
    async resume(_thread, _running, res) {
      res.status(204).end();
    },
  };
}
