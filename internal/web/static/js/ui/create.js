// @ts-check
// ui/create.js: the "create a room" form and the page that hands the creator
// the link, its QR code and the owner key.

import { el, byId, focus, copyText, lifetimeLabel } from './dom.js';
import { drawQR } from './qr.js';

/** Lifetimes offered, in minutes. */
const LIFETIMES_MIN = [5, 15, 30, 60, 180, 1440];

/**
 * The lifetimes (seconds) to offer for a relay maximum, and the default.
 * @param {{max_ttl: number, default_ttl: number}} config
 * @returns {{options: number[], selected: number}}
 */
export function lifetimeOptions(config) {
  let options = LIFETIMES_MIN.map((m) => m * 60).filter((s) => s <= config.max_ttl);
  if (options.length === 0) options = [Math.max(10, Math.floor(config.max_ttl))];
  const want = options.includes(config.default_ttl) ? config.default_ttl : 3600;
  const selected = options.includes(want) ? want : options[options.length - 1];
  return { options, selected };
}

/**
 * @typedef {{name: string, password: string, ttl: number, purge: 'anyone'|'owner'}} CreateForm
 */

/**
 * Show the create form. onSubmit does the work; while it runs the form is
 * busy, and if it throws, its message is shown and the form is usable again.
 * @param {HTMLElement} main
 * @param {{config: {max_ttl: number, default_ttl: number}|null, configError?: string, onSubmit: (f: CreateForm) => Promise<void>}} o
 */
export function renderCreate(main, o) {
  const { options, selected } = lifetimeOptions(o.config ?? { max_ttl: 86400, default_ttl: 3600 });
  const ttl = el('select', { id: 'room-ttl', name: 'ttl', 'data-testid': 'room-ttl', 'aria-describedby': 'ttl-hint' },
    ...options.map((s) => el('option', { value: String(s), selected: s === selected, text: lifetimeLabel(s) })));
  const error = el('p', { id: 'create-error', className: 'error', role: 'alert', 'data-testid': 'create-error' });
  const status = el('p', { id: 'create-status', className: 'status', role: 'status' });
  const submit = el('button', { type: 'submit', id: 'create-submit', className: 'primary', 'data-testid': 'create-submit', text: 'Create room' });
  if (o.configError) error.textContent = o.configError;

  const form = el('form', { id: 'create-form', 'data-testid': 'create-form', novalidate: true },
    el('div', { className: 'field' },
      el('label', { for: 'room-name' }, 'Room name ', el('span', { className: 'optional', text: '(optional)' })),
      el('input', { id: 'room-name', name: 'name', type: 'text', maxlength: 100, autocomplete: 'off', spellcheck: 'false',
        'aria-describedby': 'name-hint', 'data-testid': 'room-name-input' }),
      el('p', { id: 'name-hint', className: 'hint', text: 'Encrypted: only people with the link can read it.' })),
    el('div', { className: 'field' },
      el('label', { for: 'room-password' }, 'Password ', el('span', { className: 'optional', text: '(optional)' })),
      el('input', { id: 'room-password', name: 'password', type: 'password', autocomplete: 'new-password',
        'aria-describedby': 'password-hint', 'data-testid': 'room-password-input' }),
      el('p', { id: 'password-hint', className: 'hint', text: 'Everyone will need it to join. Share it apart from the link.' })),
    el('div', { className: 'field' },
      el('label', { for: 'room-ttl', text: 'Lifetime' }),
      ttl,
      el('p', { id: 'ttl-hint', className: 'hint', text: 'At the end, the room and everything in it is gone.' })),
    el('fieldset', { className: 'field' },
      el('legend', { text: 'Who may purge the room' }),
      el('div', { className: 'choice' },
        el('input', { type: 'radio', id: 'purge-anyone', name: 'purge', value: 'anyone', checked: true, 'data-testid': 'purge-anyone' }),
        el('label', { for: 'purge-anyone', text: 'Any member' })),
      el('div', { className: 'choice' },
        el('input', { type: 'radio', id: 'purge-owner', name: 'purge', value: 'owner', 'data-testid': 'purge-owner' }),
        el('label', { for: 'purge-owner', text: 'Only the owner (whoever holds the owner key)' }))),
    error,
    el('div', { className: 'actions' }, submit, status));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (submit.disabled) return;
    error.textContent = '';
    const fd = new FormData(form);
    const password = /** @type {HTMLInputElement} */ (byId('room-password')).value;
    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    status.textContent = password ? 'Deriving key… this takes a moment.' : 'Creating room…';
    try {
      await o.onSubmit({
        name: String(fd.get('name') ?? ''),
        password,
        ttl: Number(fd.get('ttl')),
        purge: fd.get('purge') === 'owner' ? 'owner' : 'anyone',
      });
    } catch (err) {
      error.textContent = err instanceof Error ? err.message : String(err);
      status.textContent = '';
      submit.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });

  main.replaceChildren(
    el('section', { className: 'card', id: 'create-view', 'data-testid': 'create-view', 'aria-labelledby': 'create-title' },
      el('h1', { id: 'create-title', text: 'Create a room' }),
      el('p', { className: 'lead', text: 'Anonymous, end-to-end encrypted group chat. No sign-up, nothing stored: the room vanishes at its deadline or when it is purged.' }),
      form,
      el('p', { className: 'small', text: 'Tip: open veil in a private window so your browser keeps no history of the link.' })));
  document.title = 'Create a room · veil';
}

/**
 * Show what the creator must take away: link, QR code, owner key.
 * @param {HTMLElement} main
 * @param {{link: string, ownerKey: string, hasPassword: boolean, ttl: number, onEnter: () => void}} o
 */
export function renderCreated(main, o) {
  const linkStatus = el('p', { id: 'copy-link-status', className: 'status', role: 'status' });
  const keyStatus = el('p', { id: 'copy-owner-status', className: 'status', role: 'status' });
  const canvas = el('canvas', { id: 'qr', 'data-testid': 'qr', role: 'img', 'aria-label': 'QR code of the room link' });
  /**
   * @param {string} inputID
   * @param {HTMLElement} statusEl
   * @param {string} what
   */
  const copier = (inputID, statusEl, what) => async () => {
    const input = /** @type {HTMLInputElement} */ (byId(inputID));
    const ok = await copyText(input.value);
    if (!ok) {
      input.select();
    }
    statusEl.textContent = ok ? `${what} copied.` : `Could not copy: the ${what.toLowerCase()} is selected, copy it with your keyboard.`;
  };
  const selectAll = (/** @type {FocusEvent} */ ev) => /** @type {HTMLInputElement} */ (ev.target).select();

  const section = el('section', { className: 'card', id: 'created-view', 'data-testid': 'created-view', 'aria-labelledby': 'created-title' },
    el('h1', { id: 'created-title', text: 'Your room is ready' }),
    el('p', { className: 'lead', text: o.hasPassword
      ? 'Share this link, and the password by another channel. Anyone with both can join.'
      : 'Share this link. Anyone who has it can join, so send it only to the people you mean.' }),
    el('div', { className: 'field' },
      el('label', { for: 'room-link', text: 'Room link' }),
      el('div', { className: 'row' },
        el('input', { id: 'room-link', type: 'text', readonly: true, 'data-testid': 'room-link', spellcheck: 'false', on: { focus: selectAll } }),
        el('button', { type: 'button', id: 'copy-link', 'data-testid': 'copy-link', text: 'Copy link', on: { click: copier('room-link', linkStatus, 'Link') } })),
      linkStatus),
    el('figure', { className: 'qr' },
      canvas,
      el('figcaption', { text: 'Or scan this code with a phone.' })),
    el('div', { className: 'owner-box', id: 'owner-box', 'data-testid': 'owner-box' },
      el('h2', { text: 'Your owner key: keep it now' }),
      el('p', {}, el('strong', { text: 'It is shown only this once.' }),
        ' With it you can purge the room at any time, from any device. Nobody can show it to you again.'),
      el('div', { className: 'field' },
        el('label', { for: 'owner-key', text: 'Owner key' }),
        el('div', { className: 'row' },
          el('input', { id: 'owner-key', type: 'text', readonly: true, 'data-testid': 'owner-key', spellcheck: 'false', on: { focus: selectAll } }),
          el('button', { type: 'button', id: 'copy-owner', 'data-testid': 'copy-owner', text: 'Copy key', on: { click: copier('owner-key', keyStatus, 'Owner key') } })),
        keyStatus)),
    el('div', { className: 'actions' },
      el('button', { type: 'button', id: 'enter-room', className: 'primary', 'data-testid': 'enter-room', text: 'Enter room', on: { click: o.onEnter } }),
      el('span', { className: 'hint', text: `The room lasts ${lifetimeText(o.ttl)} from now.` })));

  main.replaceChildren(section);
  /** @type {HTMLInputElement} */ (byId('room-link')).value = o.link;
  /** @type {HTMLInputElement} */ (byId('owner-key')).value = o.ownerKey;
  drawQR(canvas, o.link);
  document.title = 'Room created · veil';
  focus(byId('created-title'));
}

/** @param {number} s */
function lifetimeText(s) {
  if (s >= 3600 && s % 3600 === 0) return s === 3600 ? '1 hour' : `${s / 3600} hours`;
  if (s >= 60 && s % 60 === 0) return s === 60 ? '1 minute' : `${s / 60} minutes`;
  return `${s} seconds`;
}
