import { runGeneration, type CancelSignals } from '@bgs/server';
import type { DirectPorts } from '../direct/streamed-delivery';
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
      const request = { streamId: stream.id, threadId: stream.threadId, messageId: stream.messageId, model: stream.model };
      const logger = ports.logger.child({ streamId: stream.id, threadId: stream.threadId, mode: 'direct' });
      const control = cancels.register(stream.id);
      let generation: Promise<unknown> = Promise.resolve();
      try {
        await answerWithUiMessageStream(res, stream.messageId, (ui) => (generation = runGeneration(request, control, { ...ports, logger, events: ui }, { mayRetry: false })));
        // A reader that left does not stop the generation: it runs (and stays cancellable) to its end.
        await generation;
      } finally {
        cancels.release(stream.id, control);
      }
    },
    async resume(_userId, _thread, res) {
      res.status(204).end();
    },
  };
}
