// @ts-check
// ui/moderation.js: the views of moderation (docs/protocol.md section 9):
// the dialogs to report a message, to remove a member and to set the word
// filter, a report card as the owner sees it, and a small disclosure menu
// (a button that shows and hides a list of actions). Peer text goes in as
// textContent; the reported message's body only through ui/markdown.js.

import { el } from './dom.js';
import { renderMarkdown } from './markdown.js';
import { confirmDialog } from './dialog.js';

/** The longest note, in UTF-8 bytes (docs/protocol.md 9.3). */
const MAX_NOTE = 500;
const utf8 = new TextEncoder();

/**
 * @typedef {import('../moderation.js').ReportCard} ReportCard
 * @typedef {import('../wordfilter.js').WordFilter} WordFilter
 */

/**
 * Ask whether to report a message, and for an optional note. Resolves to
 * the note ('' for none), or null if cancelled.
 * @param {{alias: string, excerpt: string}} o
 * @returns {Promise<string|null>}
 */
export function reportDialog(o) {
  return new Promise((resolve) => {
    const note = el('textarea', { id: 'report-note', 'data-testid': 'report-note', rows: 3, autocomplete: 'off',
      'aria-describedby': 'report-note-count report-error' });
    const count = el('p', { id: 'report-note-count', className: 'hint', 'aria-live': 'off' });
    const error = el('p', { id: 'report-error', className: 'error', role: 'alert', 'data-testid': 'report-error' });
    const left = () => MAX_NOTE - utf8.encode(note.value).length;
    const showCount = () => {
      const n = left();
      count.textContent = n >= 0 ? `Optional. ${n} of ${MAX_NOTE} bytes left.` : `${-n} bytes too long: shorten the note.`;
      count.classList.toggle('over', n < 0);
    };
    note.addEventListener('input', showCount);
    showCount();
    const cancel = el('button', { type: 'button', id: 'report-cancel', 'data-testid': 'report-cancel', text: 'Cancel' });
    const form = el('form', { id: 'report-form', novalidate: true },
      el('blockquote', { className: 'report-excerpt', 'data-testid': 'report-excerpt' },
        el('span', { className: 'quote-alias', text: o.alias }),
        el('span', { className: 'quote-text', text: o.excerpt })),
      el('div', { className: 'field' },
        el('label', { for: 'report-note', text: 'Note for the owner' }),
        note, count),
      error,
      el('div', { className: 'actions' },
        el('button', { type: 'submit', id: 'report-submit', 'data-testid': 'report-submit', className: 'primary', text: 'Send report' }),
        cancel));
    const d = el('dialog', { id: 'report-dialog', 'data-testid': 'report-dialog', 'aria-labelledby': 'report-title',
      'aria-describedby': 'report-text' },
    el('h2', { id: 'report-title', text: 'Report this message to the owner?' }),
    el('p', { id: 'report-text', text: `The owner gets this message with proof that ${o.alias} sent it, and learns that you `
      + 'reported it. Nobody else is told, and nothing else you received is revealed.' }),
    form);
    /** @type {string|null} */
    let answer = null;
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (left() < 0) {
        error.textContent = `The note is too long: at most ${MAX_NOTE} bytes.`;
        note.focus();
        return;
      }
      answer = note.value.trim();
      d.close();
    });
    cancel.addEventListener('click', () => d.close());
    d.addEventListener('close', () => { note.value = ''; d.remove(); resolve(answer); });
    document.body.append(d);
    d.showModal();
    note.focus();
  });
}

/**
 * Ask whether to remove a member from the room.
 * @param {string} alias
 * @returns {Promise<boolean>}
 */
export function kickDialog(alias) {
  return confirmDialog({
    id: 'kick-dialog',
    title: `Remove ${alias} from the room?`,
    text: `${alias} is disconnected at once and cannot read anything said from then on. They still have the link, `
      + 'so they can join again as a new member unless you lock the room.',
    confirm: 'Remove',
    danger: true,
  });
}

/**
 * The word filter's settings. Resolves to the list as typed and the mode,
 * or null if cancelled; "Turn off" resolves to an empty list.
 * @param {WordFilter} filter
 * @returns {Promise<{text: string, mode: 'hide'|'blur'}|null>}
 */
export function filterDialog(filter) {
  return new Promise((resolve) => {
    const words = el('textarea', { id: 'filter-words', 'data-testid': 'filter-words', rows: 5, autocomplete: 'off',
      spellcheck: 'false', 'aria-describedby': 'filter-words-hint' });
    words.value = filter.entries.join('\n');
    /**
     * @param {'hide'|'blur'} value
     * @param {string} label
     */
    const radio = (value, label) => el('div', { className: 'choice' },
      el('input', { type: 'radio', id: `filter-${value}`, name: 'filter-mode', value, 'data-testid': `filter-${value}`,
        checked: filter.mode === value }),
      el('label', { for: `filter-${value}`, text: label }));
    const cancel = el('button', { type: 'button', id: 'filter-cancel', 'data-testid': 'filter-cancel', text: 'Cancel' });
    const off = el('button', { type: 'button', id: 'filter-off', 'data-testid': 'filter-off', text: 'Turn off' });
    const form = el('form', { id: 'filter-form', novalidate: true },
      el('div', { className: 'field' },
        el('label', { for: 'filter-words', text: 'Words and phrases, one per line' }),
        words,
        el('p', { id: 'filter-words-hint', className: 'hint',
          text: 'Whole words, in any case: "spoiler" also catches "SPOILER!" but not "spoilers".' })),
      el('fieldset', { className: 'field' },
        el('legend', { text: 'Messages that match are' }),
        radio('hide', 'Hidden, with a button to show each one'),
        radio('blur', 'Blurred until you choose to show them')),
      el('div', { className: 'actions' },
        el('button', { type: 'submit', id: 'filter-save', 'data-testid': 'filter-save', className: 'primary', text: 'Save' }),
        off, cancel));
    const d = el('dialog', { id: 'filter-dialog', 'data-testid': 'filter-dialog', 'aria-labelledby': 'filter-title',
      'aria-describedby': 'filter-text' },
    el('h2', { id: 'filter-title', text: 'Word filter' }),
    el('p', { id: 'filter-text', text: 'Messages from others that contain a word on your list are hidden or blurred on '
      + 'this screen only. The list stays in this tab\'s memory: it is never saved or sent, and it is gone when you leave.' }),
    form);
    /** @type {{text: string, mode: 'hide'|'blur'}|null} */
    let answer = null;
    const mode = () => (/** @type {HTMLInputElement|null} */ (form.querySelector('input[name=filter-mode]:checked'))?.value === 'blur'
      ? 'blur' : 'hide');
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      answer = { text: words.value, mode: mode() };
      d.close();
    });
    off.addEventListener('click', () => { answer = { text: '', mode: mode() }; d.close(); });
    cancel.addEventListener('click', () => d.close());
    d.addEventListener('close', () => { words.value = ''; d.remove(); resolve(answer); });
    document.body.append(d);
    d.showModal();
    words.focus();
  });
}

/**
 * A report as the owner sees it: who reported whom, the reported message
 * (sanitised Markdown, never raw HTML), the note, and the actions.
 * @param {ReportCard} r
 * @param {{clock: (d: Date) => string, timer: HTMLElement|null, onRemove: () => void, onDismiss: () => void}} o
 * @returns {HTMLLIElement}
 */
export function reportCard(r, o) {
  const body = el('div', { className: 'msg-body md report-body', 'data-testid': 'report-text' });
  body.append(renderMarkdown(r.text || (r.file ? '' : '(no text)')));
  if (r.text === '' && r.file) body.hidden = true;
  const titleID = `${r.id}-title`;
  const canRemove = r.sender.present && !r.sender.self;
  return el('li', { className: 'report-card', 'data-testid': 'report-card', 'data-id': r.id, 'data-sender': String(r.sender.session),
    'aria-labelledby': titleID },
    el('div', { className: 'report-head' },
      el('h3', { id: titleID, className: 'report-title' },
        'Report from ', el('span', { className: 'msg-alias', 'data-testid': 'report-reporter', text: r.reporter.alias })),
      el('time', { className: 'msg-time', datetime: r.at.toISOString(), text: o.clock(r.at) }),
      o.timer),
    el('p', { className: 'report-about' },
      r.kind === 'dm' ? 'About a direct message from ' : 'About a message from ',
      el('strong', { 'data-testid': 'report-sender', text: r.sender.alias }),
      ' (key ', el('span', { className: 'code', 'data-testid': 'report-fingerprint', text: r.sender.fingerprint }), ')',
      r.sender.present ? '' : ', who has left the room',
      '. Its signature checks out: they really sent it.'),
    el('blockquote', { className: 'report-quote' }, body,
      r.file ? el('p', { className: 'report-file', 'data-testid': 'report-file', text: `with the file ${r.file}` }) : null),
    r.note
      ? el('div', { className: 'report-note' },
        el('span', { className: 'report-note-label', text: `Note from ${r.reporter.alias}: ` }),
        el('span', { 'data-testid': 'report-note', text: r.note }))
      : el('p', { className: 'report-note report-no-note', 'data-testid': 'report-note', text: 'No note.' }),
    el('p', { className: 'hint report-private', text: 'Only you, the owner, see this report.' }),
    el('div', { className: 'actions report-actions' },
      canRemove && el('button', { type: 'button', className: 'danger small-button', 'data-testid': 'report-kick',
        text: `Remove ${r.sender.alias}`, on: { click: o.onRemove } }),
      el('button', { type: 'button', className: 'small-button', 'data-testid': 'report-dismiss', text: 'Dismiss',
        'aria-label': `Dismiss the report from ${r.reporter.alias}`, on: { click: o.onDismiss } })));
}

/**
 * A disclosure menu: a button that shows and hides a panel of actions.
 * Escape closes it, and so does choosing an action; closeMenus closes it
 * when the person clicks or tabs elsewhere. root holds both and drops the
 * panel below the button; a caller may instead place button and panel
 * apart inside another element of class "menu-wrap".
 * @param {{id: string, label: string, ariaLabel?: string, className?: string, testid?: string}} o
 * @param {...(HTMLElement|null|false)} items buttons
 * @returns {{root: HTMLElement, button: HTMLButtonElement, panel: HTMLElement, setOpen: (open: boolean) => void}}
 */
export function disclosure(o, ...items) {
  const testid = o.testid ?? o.id;
  const panel = el('div', { id: o.id, className: 'menu', 'data-testid': testid, hidden: true }, ...items);
  const button = el('button', { type: 'button', id: `${o.id}-toggle`, 'data-testid': `${testid}-toggle`,
    className: `menu-toggle ${o.className ?? ''}`.trim(), 'aria-expanded': 'false', 'aria-controls': o.id,
    'aria-label': o.ariaLabel, text: o.label });
  const root = el('span', { className: 'menu-wrap menu-anchor' }, button, panel);
  /** @param {boolean} open */
  const setOpen = (open) => {
    panel.hidden = !open;
    button.setAttribute('aria-expanded', open ? 'true' : 'false');
    // Inside a scrolling list (the members on a phone), bring it into view.
    if (open && panel.isConnected) panel.scrollIntoView({ block: 'nearest' });
  };
  button.addEventListener('click', () => setOpen(panel.hidden));
  // Capture: the menu closes before the action runs (which may re-render it).
  panel.addEventListener('click', (ev) => {
    if (/** @type {HTMLElement} */ (ev.target).closest('button')) setOpen(false);
  }, true);
  /** @param {KeyboardEvent} ev */
  const escape = (ev) => {
    if (ev.key === 'Escape' && !panel.hidden) {
      ev.stopPropagation();
      setOpen(false);
      button.focus();
    }
  };
  button.addEventListener('keydown', escape);
  panel.addEventListener('keydown', escape);
  return { root, button, panel, setOpen };
}

/**
 * Close every open disclosure menu that does not hold target (a click or
 * focus elsewhere).
 * @param {EventTarget|null} target
 */
export function closeMenus(target) {
  for (const wrap of document.querySelectorAll('.menu-wrap')) {
    if (target instanceof Node && wrap.contains(target)) continue;
    const panel = wrap.querySelector('.menu');
    if (!panel || /** @type {HTMLElement} */ (panel).hidden) continue;
    /** @type {HTMLElement} */ (panel).hidden = true;
    wrap.querySelector('.menu-toggle')?.setAttribute('aria-expanded', 'false');
  }
}
