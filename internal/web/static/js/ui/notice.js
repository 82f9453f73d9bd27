// @ts-check
// ui/notice.js: a full-page message (the room ended, wrong password, a dead
// or malformed link, logged out), with the actions that make sense next.

import { el, byId, focus } from './dom.js';

/**
 * @typedef {{label: string, id: string, primary?: boolean, onClick: () => void}} Action
 */

/**
 * Replace the page with a message.
 * @param {HTMLElement} main
 * @param {{kind: string, title: string, text: string, code?: number, actions?: Action[]}} o
 */
export function renderNotice(main, o) {
  main.replaceChildren(
    el('section', {
      className: `card notice notice-${o.kind}`, id: 'notice-view', 'data-testid': 'notice-view',
      'data-kind': o.kind, 'data-code': o.code === undefined ? undefined : String(o.code),
      'aria-labelledby': 'notice-title',
    },
    el('h1', { id: 'notice-title', 'data-testid': 'notice-title', text: o.title }),
    el('p', { id: 'notice-text', 'data-testid': 'notice-text', className: 'lead', text: o.text }),
    (o.actions?.length ?? 0) > 0 && el('div', { className: 'actions' },
      ...(o.actions ?? []).map((a) => el('button', {
        type: 'button', id: a.id, 'data-testid': a.id, className: a.primary ? 'primary' : undefined,
        text: a.label, on: { click: a.onClick },
      })))));
  document.title = `${o.title} · veil`;
  focus(byId('notice-title'));
}
