import type { Notification } from '@bgs/client';
import { byId, h, setAttr, setText } from './dom.client';

/** What the notification list asks the page to do. */
export interface NotificationActions {
  openThread(threadId: string): void;
  readAll(): void;
}

/** How long a toast stays unless closed. */
const TOAST_MS = 8_000;

/**
 * The bell: an unread count, a list of recent notifications (click one to open its
 * thread), and a toast for each new one pushed by `notification.created`.
 */
export class NotificationCenter {
  private readonly toggle = byId<HTMLButtonElement>('notifications-toggle');
  private readonly count = byId('notification-count');
  private readonly panel = byId('notifications-panel');
  private readonly list = byId<HTMLUListElement>('notification-list');
  private readonly toasts = byId('toasts');
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(private readonly actions: NotificationActions) {
    this.toggle.addEventListener('click', () => this.setOpen(this.panel.hidden));
    byId('read-all').addEventListener('click', () => this.actions.readAll());
  }

  render(notifications: readonly Notification[], unread: number): void {
    setText(this.count, String(unread));
    setAttr(this.count, 'hidden', unread === 0);
    setAttr(this.toggle, 'aria-label', `Notifications, ${unread} unread`);
    this.list.replaceChildren(
      ...(notifications.length === 0
        ? [h('li', { class: 'empty', text: 'Nothing yet. Leave a thread while it answers and you will be told here.' })]
        : notifications.map((n) => this.item(n))),
    );
  }

  /** A new notification: a toast that opens its thread on click. */
  toast(n: Notification): void {
    const open = h('button', { type: 'button', class: 'toast-open' }, h('strong', { text: n.title }), h('span', { text: n.body }));
    const close = h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss', text: '×' });
    const toast = h('div', { class: `toast ${n.type === 'system.warning' ? 'warning' : ''}`, 'data-notification-id': n.id }, open, close);
    const dismiss = () => {
      clearTimeout(timer);
      this.timers.delete(timer);
      toast.remove();
    };
    const timer = setTimeout(dismiss, TOAST_MS);
    this.timers.add(timer);
    open.addEventListener('click', () => (dismiss(), this.actions.openThread(n.threadId)));
    close.addEventListener('click', dismiss);
    this.toasts.append(toast);
  }

  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private setOpen(open: boolean): void {
    this.panel.hidden = !open;
    setAttr(this.toggle, 'aria-expanded', open ? 'true' : 'false');
  }

  private item(n: Notification): HTMLLIElement {
    const button = h(
      'button',
      { type: 'button' },
      h('strong', { text: n.title }),
      h('span', { text: n.body }),
      h('time', { datetime: n.createdAt, text: new Date(n.createdAt).toLocaleTimeString() }),
    );
    button.addEventListener('click', () => this.actions.openThread(n.threadId));
    return h('li', { class: `notification ${n.readAt === null ? 'unread' : ''} ${n.type === 'system.warning' ? 'warning' : ''}`, 'data-notification-id': n.id, 'data-thread-id': n.threadId }, button);
  }
}
