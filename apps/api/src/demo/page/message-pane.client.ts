import type { ChatMessage, ThreadViewState } from '@bgs/client';
import { byId, h, setAttr, setText } from './dom.client';
import { threadNotice } from './status-text';

/** What the pane asks the page to do. */
export interface MessagePaneActions {
  send(content: string): void;
  stop(streamId: string): void;
}

const STATUS_TEXT: Record<ChatMessage['status'], string> = {
  sending: 'sending…',
  streaming: 'answering…',
  complete: '',
  failed: 'failed',
  cancelled: 'stopped',
};

interface MessageElements {
  item: HTMLLIElement;
  content: HTMLElement;
  status: HTMLElement;
}

/**
 * The open thread: its messages with the live answer, the composer and the stop button.
 * `render` runs at most once per animation frame (the client batches updates) and
 * touches only the nodes whose text or status changed.
 */
export class MessagePane {
  private readonly title = byId('thread-title');
  private readonly log = byId<HTMLOListElement>('messages');
  private readonly form = byId<HTMLFormElement>('composer');
  private readonly input = byId<HTMLTextAreaElement>('message-input');
  private readonly sendButton = byId<HTMLButtonElement>('send');
  private readonly stopButton = byId<HTMLButtonElement>('stop');
  private readonly problem = byId('pane-problem');
  private readonly notice = byId('thread-status');
  private readonly items = new Map<string, MessageElements>();
  private stoppable: string | null = null;
  private busy = false;

  constructor(private readonly actions: MessagePaneActions) {
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
    // Enter sends, Shift+Enter starts a new line.
    this.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      }
    });
    this.stopButton.addEventListener('click', () => {
      if (!this.stoppable) return;
      this.stopButton.disabled = true;
      this.actions.stop(this.stoppable);
    });
  }

  /** Another thread is open (null: none yet): its title, and an empty log until its view renders. */
  showThread(title: string | null): void {
    setText(this.title, title ?? 'No thread yet: start a new chat');
    this.log.replaceChildren();
    this.items.clear();
    setAttr(this.log, 'aria-busy', title !== null);
    this.setProblem(null);
    this.showNotice(null);
    this.form.hidden = title === null;
    this.stoppable = null;
    this.busy = false;
    this.syncButtons();
  }

  rename(title: string): void {
    setText(this.title, title);
  }

  render(view: ThreadViewState): void {
    const stickToBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 40;
    const shown = new Set(view.messages.map((m) => m.id));
    for (const [id, item] of this.items) {
      if (!shown.has(id)) {
        item.item.remove();
        this.items.delete(id);
      }
    }
    view.messages.forEach((m, index) => {
      const item = this.items.get(m.id) ?? this.create(m);
      this.update(item, m);
      if (this.log.children[index] !== item.item) this.log.insertBefore(item.item, this.log.children[index] ?? null);
    });
    setAttr(this.log, 'aria-busy', view.status === 'loading' || (!view.loaded && view.status !== 'error' && view.status !== 'deleted'));
    const notice = threadNotice(view);
    this.showNotice(notice);
    // Nothing can be sent to a deleted thread, or one that cannot be shown.
    this.form.hidden = notice?.kind === 'gone';
    const running = view.messages.find((m) => m.role === 'assistant' && m.status === 'streaming' && m.streamId);
    this.stoppable = running?.streamId ?? null;
    this.busy = view.streaming;
    this.syncButtons();
    if (stickToBottom) this.log.scrollTop = this.log.scrollHeight;
  }

  private showNotice(notice: ReturnType<typeof threadNotice>): void {
    setText(this.notice, notice?.text ?? '');
    setAttr(this.notice, 'data-kind', notice?.kind ?? null);
    this.notice.hidden = notice === null;
  }

  setProblem(text: string | null): void {
    setText(this.problem, text ?? '');
    this.problem.hidden = text === null;
  }

  private submit(): void {
    const content = this.input.value.trim();
    if (!content || this.busy) return;
    this.input.value = '';
    this.setProblem(null);
    this.actions.send(content);
  }

  private syncButtons(): void {
    // One answer at a time per thread (the API says 409 otherwise).
    this.sendButton.disabled = this.busy;
    this.stopButton.disabled = this.stoppable === null;
  }

  private create(m: ChatMessage): MessageElements {
    const content = h('div', { class: 'content' });
    const status = h('span', { class: 'status' });
    const item = h('li', { class: `message ${m.role}`, 'data-message-id': m.id }, h('span', { class: 'author', text: m.role === 'user' ? 'You' : 'Assistant' }), content, status);
    const elements = { item, content, status };
    this.items.set(m.id, elements);
    return elements;
  }

  private update(el: MessageElements, m: ChatMessage): void {
    setText(el.content, m.content);
    setAttr(el.item, 'data-status', m.status);
    // A screen reader waits for the whole answer instead of reading every frame.
    setAttr(el.item, 'aria-busy', m.status === 'streaming' || m.status === 'sending');
    setText(el.status, m.error ? `${STATUS_TEXT[m.status]}: ${m.error.message}` : STATUS_TEXT[m.status]);
  }
}
