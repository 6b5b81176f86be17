/** Tiny DOM helpers for the demo page (no framework). */

type Props = Record<string, string | boolean | number | null | undefined>;

/**
 * Creates an element. Props become attributes (`true` → present, false/null/undefined →
 * absent), except `text`, which sets the text content.
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === 'text') el.textContent = String(value ?? '');
    else setAttr(el, name, value);
  }
  el.append(...children);
  return el;
}

/** Sets or removes an attribute, touching the DOM only when it changes. */
export function setAttr(el: Element, name: string, value: string | boolean | number | null | undefined): void {
  const wanted = value === false || value === null || value === undefined ? null : value === true ? '' : String(value);
  if (el.getAttribute(name) === wanted) return;
  if (wanted === null) el.removeAttribute(name);
  else el.setAttribute(name, wanted);
}

/** Sets text content only when it changes (a frame of a streaming answer touches one node). */
export function setText(el: Node, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/** The element with `id`, which the page's HTML must have. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}
