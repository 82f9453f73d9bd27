// @ts-check
// ui/dialog.js: modal dialogs built on <dialog> (focus is trapped and Escape
// closes them, by the browser): a yes/no confirmation and the "purge with
// owner key" form.

import { el } from './dom.js';

/**
 * Ask a yes/no question; resolves true on confirm.
 * @param {{id: string, title: string, text: string, confirm: string, danger?: boolean}} o
 * @returns {Promise<boolean>}
 */
export function confirmDialog(o) {
  return new Promise((resolve) => {
    const yes = el('button', { type: 'button', id: `${o.id}-confirm`, 'data-testid': `${o.id}-confirm`,
      className: o.danger ? 'danger' : 'primary', text: o.confirm });
    const no = el('button', { type: 'button', id: `${o.id}-cancel`, 'data-testid': `${o.id}-cancel`, text: 'Cancel' });
    const d = el('dialog', { id: o.id, 'data-testid': o.id, 'aria-labelledby': `${o.id}-title`, 'aria-describedby': `${o.id}-text` },
      el('h2', { id: `${o.id}-title`, text: o.title }),
      el('p', { id: `${o.id}-text`, text: o.text }),
      el('div', { className: 'actions' }, yes, no));
    let answer = false;
    yes.addEventListener('click', () => { answer = true; d.close(); });
    no.addEventListener('click', () => d.close());
    d.addEventListener('close', () => { d.remove(); resolve(answer); });
    document.body.append(d);
    d.showModal();
    no.focus();
  });
}

/**
 * Ask for an owner key. check returns an error text, or null if the key is
 * well-formed; resolves to the key typed, or null if cancelled.
 * @param {(key: string) => string|null} check
 * @returns {Promise<string|null>}
 */
export function ownerKeyDialog(check) {
  return new Promise((resolve) => {
    const input = el('input', { id: 'owner-key-input', 'data-testid': 'owner-key-input', type: 'password', autocomplete: 'off',
      spellcheck: 'false', 'aria-describedby': 'owner-key-hint owner-key-error' });
    const error = el('p', { id: 'owner-key-error', className: 'error', role: 'alert', 'data-testid': 'owner-key-error' });
    const cancel = el('button', { type: 'button', id: 'owner-key-cancel', 'data-testid': 'owner-key-cancel', text: 'Cancel' });
    const form = el('form', { id: 'owner-key-form', novalidate: true },
      el('div', { className: 'field' },
        el('label', { for: 'owner-key-input', text: 'Owner key' }),
        input,
        el('p', { id: 'owner-key-hint', className: 'hint', text: 'The key shown once when the room was created. Purging wipes every screen and kills the link.' })),
      error,
      el('div', { className: 'actions' },
        el('button', { type: 'submit', id: 'owner-key-submit', 'data-testid': 'owner-key-submit', className: 'danger', text: 'Purge for everyone' }),
        cancel));
    const d = el('dialog', { id: 'owner-key-dialog', 'data-testid': 'owner-key-dialog', 'aria-labelledby': 'owner-key-title' },
      el('h2', { id: 'owner-key-title', text: 'Purge with the owner key' }),
      form);
    /** @type {string|null} */
    let answer = null;
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const why = check(input.value);
      if (why) {
        error.textContent = why;
        input.focus();
        return;
      }
      answer = input.value.trim();
      d.close();
    });
    cancel.addEventListener('click', () => d.close());
    d.addEventListener('close', () => { input.value = ''; d.remove(); resolve(answer); });
    document.body.append(d);
    d.showModal();
    input.focus();
  });
}

/** Close every open dialog (the screen is being wiped). */
export function closeDialogs() {
  for (const d of document.querySelectorAll('dialog')) {
    d.close();
    d.remove();
  }
}
