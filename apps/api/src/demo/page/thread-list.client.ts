import { h, setAttr, setText } from './dom.client';
import type { ThreadRow } from './thread-activity';

/** What the list asks the page to do. */
export interface ThreadListActions {
  open(threadId: string): void;
  setMuted(threadId: string, muted: boolean): void;
}

interface RowElements {
  item: HTMLLIElement;
  open: HTMLButtonElement;
  title: HTMLElement;
  streaming: HTMLElement;
  badge: HTMLElement;
  badgeCount: HTMLElement;
  badgeLabel: HTMLElement;
  mute: HTMLButtonElement;
}

/**
 * The thread list: a row per thread with its title, an "answering" indicator, an
 * unread badge and a mute toggle. Rows are kept by thread id and only what changed is
 * touched, so a focused button keeps its focus while answers stream.
 */
export class ThreadList {
  private readonly rows = new Map<string, RowElements>();

  constructor(
    private readonly list: HTMLUListElement,
    private readonly actions: ThreadListActions,
  ) {}

  render(rows: ThreadRow[]): void {
    const wanted = new Set(rows.map((r) => r.id));
    for (const [id, row] of this.rows) {
      if (!wanted.has(id)) {
        row.item.remove();
        this.rows.delete(id);
      }
    }
    rows.forEach((r, index) => {
      const row = this.rows.get(r.id) ?? this.create(r.id);
      this.update(row, r);
      // Moving a node blurs it: move only rows that are out of place.
      if (this.list.children[index] !== row.item) this.list.insertBefore(row.item, this.list.children[index] ?? null);
    });
  }

  private create(threadId: string): RowElements {
    const title = h('span', { class: 'thread-title' });
    const streaming = h('span', { class: 'streaming-indicator', hidden: true }, h('span', { class: 'visually-hidden', text: '(answering)' }));
    // The number is seen; a screen reader hears "(2 unread)" as part of the thread's name.
    const badgeCount = h('span', { 'aria-hidden': 'true' });
    const badgeLabel = h('span', { class: 'visually-hidden' });
    const badge = h('span', { class: 'badge', hidden: true }, badgeCount, badgeLabel);
    const open = h('button', { type: 'button', class: 'thread-open' }, title, streaming, badge);
    const mute = h('button', { type: 'button', class: 'thread-mute' });
    const item = h('li', { class: 'thread', 'data-thread-id': threadId }, open, mute);
    open.addEventListener('click', () => this.actions.open(threadId));
    mute.addEventListener('click', () => this.actions.setMuted(threadId, mute.getAttribute('aria-pressed') !== 'true'));
    const row = { item, open, title, streaming, badge, badgeCount, badgeLabel, mute };
    this.rows.set(threadId, row);
    return row;
  }

  private update(row: RowElements, r: ThreadRow): void {
    setText(row.title, r.title);
    setAttr(row.open, 'aria-current', r.selected ? 'true' : null);
    setAttr(row.streaming, 'hidden', !r.streaming);
    setAttr(row.item, 'data-streaming', r.streaming);
    setAttr(row.badge, 'hidden', r.unread === 0);
    setText(row.badgeCount, String(r.unread));
    setText(row.badgeLabel, `(${r.unread} unread)`);
    setAttr(row.mute, 'aria-pressed', r.muted ? 'true' : 'false');
    setAttr(row.mute, 'aria-label', `Mute ${r.title}`);
    setAttr(row.mute, 'title', r.muted ? 'Muted: no notification when an answer ends here' : 'Mute notifications for this thread');
  }
}
