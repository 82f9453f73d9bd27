// @ts-check
// ui/join.js: the "join a room" form shown when the page opens on a link.

import { el, byId, focus } from './dom.js';

/**
 * @typedef {object} JoinView
 * @property {(text: string) => void} busy   show progress, disable the form
 * @property {(text: string) => void} fail   show an error, enable the form
 */

/**
 * Show the join form.
 * @param {HTMLElement} main
 * @param {{hasPassword: boolean, alias: string, suggest: () => string, error?: string,
 *          onJoin: (alias: string, password: string) => void}} o
 * @returns {JoinView}
 */
export function renderJoin(main, o) {
  const error = el('p', { id: 'join-error', className: 'error', role: 'alert', 'data-testid': 'join-error' });
  const status = el('p', { id: 'join-status', className: 'status', role: 'status', 'data-testid': 'join-status' });
  const submit = el('button', { type: 'submit', id: 'join-submit', className: 'primary', 'data-testid': 'join-submit', text: 'Join' });
  const alias = el('input', {
    id: 'alias', name: 'alias', type: 'text', maxlength: 64, autocomplete: 'off', spellcheck: 'false',
    'aria-describedby': 'alias-hint', 'data-testid': 'alias-input',
  });
  const password = o.hasPassword
    ? el('input', { id: 'join-password', name: 'password', type: 'password', autocomplete: 'off', required: true, 'data-testid': 'join-password' })
    : null;

  const form = el('form', { id: 'join-form', 'data-testid': 'join-form', novalidate: true },
    el('div', { className: 'field' },
      el('label', { for: 'alias', text: 'Your alias' }),
      el('div', { className: 'row' },
        alias,
        el('button', { type: 'button', id: 'alias-suggest', 'data-testid': 'alias-suggest', text: 'Another',
          'aria-label': 'Another alias, picked at random',
          on: { click: () => { alias.value = o.suggest(); alias.focus(); } } })),
      el('p', { id: 'alias-hint', className: 'hint', text: 'The name others see, next to your key fingerprint. Nothing else about you is shared.' })),
    password && el('div', { className: 'field' },
      el('label', { for: 'join-password', text: 'Room password' }),
      password),
    error,
    el('div', { className: 'actions' }, submit, status));

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (submit.disabled) return;
    if (password && password.value === '') {
      error.textContent = 'This room has a password: type it to join.';
      password.focus();
      return;
    }
    error.textContent = '';
    o.onJoin(alias.value, password ? password.value : '');
  });

  main.replaceChildren(
    el('section', { className: 'card', id: 'join-view', 'data-testid': 'join-view', 'aria-labelledby': 'join-title' },
      el('h1', { id: 'join-title', text: 'Join a room' }),
      el('p', { className: 'lead', text: o.hasPassword
        ? 'You have a link to an end-to-end encrypted room that needs a password.'
        : 'You have a link to an end-to-end encrypted room.' }),
      form,
      el('p', { className: 'small', text: 'Your screen is wiped when you leave. Tip: a private window keeps no history of the link.' })));
  alias.value = o.alias;
  if (o.error) error.textContent = o.error;
  document.title = 'Join a room · veil';
  focus(o.error && password ? password : byId('join-title'));

  return {
    busy(text) {
      submit.disabled = true;
      form.setAttribute('aria-busy', 'true');
      status.textContent = text;
    },
    fail(text) {
      submit.disabled = false;
      form.removeAttribute('aria-busy');
      status.textContent = '';
      error.textContent = text;
    },
  };
}
