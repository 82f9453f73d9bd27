// @ts-check
// ui/dialog.js: modal dialogs built on <dialog> (focus is trapped and Escape
// closes them, by the browser): a yes/no confirmation and the owner key
// form (to purge, or to become the owner).

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
 * well-formed; resolves to the key typed, or null if cancelled. The field
 * is a password field and is cleared when the dialog closes. By default it
 * asks for the key to purge; o changes the dialog's id, words and button
 * (becoming the owner).
 * @param {(key: string) => string|null} check
 * @param {{id?: string, title?: string, hint?: string, submit?: string, danger?: boolean}} [o]
 * @returns {Promise<string|null>}
 */
export function ownerKeyDialog(check, o = {}) {
  const id = o.id ?? 'owner-key';
  return new Promise((resolve) => {
    const input = el('input', { id: `${id}-input`, 'data-testid': `${id}-input`, type: 'password', autocomplete: 'off',
      spellcheck: 'false', 'aria-describedby': `${id}-hint ${id}-error` });
    const error = el('p', { id: `${id}-error`, className: 'error', role: 'alert', 'data-testid': `${id}-error` });
    const cancel = el('button', { type: 'button', id: `${id}-cancel`, 'data-testid': `${id}-cancel`, text: 'Cancel' });
    const form = el('form', { id: `${id}-form`, novalidate: true },
      el('div', { className: 'field' },
        el('label', { for: `${id}-input`, text: 'Owner key' }),
        input,
        el('p', { id: `${id}-hint`, className: 'hint',
          text: o.hint ?? 'The key shown once when the room was created. Purging wipes every screen and kills the link.' })),
      error,
      el('div', { className: 'actions' },
        el('button', { type: 'submit', id: `${id}-submit`, 'data-testid': `${id}-submit`,
          className: (o.danger ?? true) ? 'danger' : 'primary', text: o.submit ?? 'Purge for everyone' }),
        cancel));
    const d = el('dialog', { id: `${id}-dialog`, 'data-testid': `${id}-dialog`, 'aria-labelledby': `${id}-title` },
      el('h2', { id: `${id}-title`, text: o.title ?? 'Purge with the owner key' }),
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
