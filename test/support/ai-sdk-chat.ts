import { AbstractChat, DefaultChatTransport, type ChatState, type ChatStatus, type UIMessage } from 'ai';

/** The text of a UI message, as a chat UI renders it (its text parts, in order). */
export const textOf = (m: UIMessage | undefined): string =>
  (m?.parts ?? []).map((p) => (p.type === 'text' ? p.text : '')).join('');

/**
 * The state a UI framework would hold for the AI SDK's stock chat (`AbstractChat`): plain
 * arrays here, with every version of the assistant's text the UI was given, in order.
 */
class RecordedChatState implements ChatState<UIMessage> {
  status: ChatStatus = 'ready';
  error: Error | undefined = undefined;
  messages: UIMessage[] = [];
  /** The last message's text after each update: what a user saw, step by step. */
  readonly shown: string[] = [];

  pushMessage = (message: UIMessage) => {
    this.messages = [...this.messages, message];
    this.record();
  };

  popMessage = () => {
    this.messages = this.messages.slice(0, -1);
  };

  replaceMessage = (index: number, message: UIMessage) => {
    this.messages = this.messages.map((m, i) => (i === index ? message : m));
    this.record();
  };

  snapshot = <T>(thing: T): T => structuredClone(thing);

  private record(): void {
    const last = this.messages[this.messages.length - 1];
    if (last?.role === 'assistant') this.shown.push(textOf(last));
  }
}

/**
 * The AI SDK's own chat and transport, unchanged, pointed at this API: what an app built
 * on `useChat` runs, without a UI framework around it.
 */
export class StockChat extends AbstractChat<UIMessage> {
  readonly view: RecordedChatState;
  readonly errors: Error[] = [];

  constructor(baseUrl: string, token: string, id: string) {
    const view = new RecordedChatState();
    const errors: Error[] = [];
    super({
      id,
      state: view,
      transport: new DefaultChatTransport({ api: `${baseUrl}/api/chat`, headers: { Authorization: `Bearer ${token}` } }),
      onError: (err) => errors.push(err),
    });
    this.view = view;
    this.errors = errors;
  }

  /** The assistant's answer as shown now. */
  get answer(): string {
    const last = this.view.messages[this.view.messages.length - 1];
    return last?.role === 'assistant' ? textOf(last) : '';
  }
}

/** Every shown version is a prefix of the next (nothing shown twice, nothing taken back), ending at `final`. */
export function grewTo(shown: string[], final: string): string[] {
  const problems: string[] = [];
  for (let i = 1; i < shown.length; i++) if (!shown[i].startsWith(shown[i - 1])) problems.push(`step ${i} does not extend step ${i - 1}`);
  if (shown[shown.length - 1] !== final) problems.push('the last shown text is not the final answer');
  return problems;
}
