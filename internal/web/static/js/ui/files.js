// @ts-check
// ui/files.js: how a file in a message looks (docs/protocol.md section 8):
// a progress bar with Cancel while it travels; once verified, a picture
// shown inline, audio (voice notes too) or video in the browser's players,
// or a download link, always with the name and size; "file failed: why"
// otherwise. Media come only from blob: URLs of files whose first bytes
// were checked (file.js's sniff); the name a peer sent goes in as
// textContent. Every blob: URL made here is revoked when its message goes.

import { el } from './dom.js';
import { formatSize } from '../file.js';

/** @typedef {import('../transfers.js').FileState} FileState */

/** @type {string} */
const SVG = 'http://www.w3.org/2000/svg';

/**
 * Icon shapes: [element, attributes] on a 24-unit grid, stroked in the text colour.
 * @type {Readonly<Record<string, [string, Record<string, string>][]>>}
 */
const ICONS = Object.freeze({
  attach: [['path', { d: 'M16 6.5 8.6 13.9a2 2 0 0 0 2.8 2.8L19 9.1a4 4 0 0 0-5.7-5.7L5.6 11.1a6 6 0 0 0 8.5 8.5L20 13.7' }]],
  mic: [['rect', { x: '9', y: '2', width: '6', height: '12', rx: '3' }], ['path', { d: 'M5 11a7 7 0 0 0 14 0M12 18v4M8 22h8' }]],
  file: [['path', { d: 'M6 2h8l5 5v15H6z' }], ['path', { d: 'M14 2v5h5' }]],
});

/**
 * A small decorative icon (hidden from screen readers), built as SVG
 * elements: no markup strings.
 * @param {'attach'|'mic'|'file'} name
 * @returns {Element}
 */
export function icon(name) {
  const svg = document.createElementNS(SVG, 'svg');
  for (const [k, v] of Object.entries({ viewBox: '0 0 24 24', width: '18', height: '18', fill: 'none', stroke: 'currentColor',
    'stroke-width': '2', 'stroke-linecap': 'round', 'stroke-linejoin': 'round', 'aria-hidden': 'true', focusable: 'false',
    class: `icon icon-${name}` })) {
    svg.setAttribute(k, v);
  }
  for (const [tag, attrs] of ICONS[name]) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    svg.append(e);
  }
  return svg;
}

/**
 * @typedef {object} Shown
 * @property {HTMLElement} box
 * @property {string[]} urls
 * @property {string} alias  who sent it
 * @property {string} state  the state last drawn
 */

/** The file parts of the messages on screen, by message id. */
export class FileViews {
  /**
   * @param {{onCancel: (id: string) => void}} o
   */
  constructor(o) {
    this.o = o;
    /** @type {Map<string, Shown>} */
    this.shown = new Map();
  }

  /**
   * The element showing a message's file.
   * @param {string} id
   * @param {FileState} file
   * @param {string} alias the sender's alias
   * @returns {HTMLElement}
   */
  render(id, file, alias) {
    const box = el('div', { className: 'file', 'data-testid': 'file' });
    /** @type {Shown} */
    const s = { box, urls: [], alias, state: '' };
    this.shown.set(id, s);
    this.draw(id, s, file);
    return box;
  }

  /**
   * A file's state changed. Returns its element, if it is on screen.
   * @param {string} id
   * @param {FileState} file
   * @returns {HTMLElement|null}
   */
  update(id, file) {
    const s = this.shown.get(id);
    if (!s) return null;
    if (s.state === file.state && (file.state === 'sending' || file.state === 'receiving')) {
      this.drawProgress(s.box, file);
    } else {
      this.draw(id, s, file);
    }
    return s.box;
  }

  /**
   * @param {string} id
   * @param {Shown} s
   * @param {FileState} file
   */
  draw(id, s, file) {
    const box = s.box;
    const hadFocus = box.contains(document.activeElement);
    this.paint(id, s, file);
    if (hadFocus && !box.contains(document.activeElement)) {
      // Cancel had focus and is gone: keep the place, on what replaced it.
      const next = /** @type {HTMLElement|null} */ (box.querySelector('a, button, audio, video'));
      if (next) next.focus();
      else {
        box.setAttribute('tabindex', '-1');
        box.focus();
      }
    }
  }

  /**
   * @param {string} id
   * @param {Shown} s
   * @param {FileState} file
   */
  paint(id, s, file) {
    s.state = file.state;
    const box = s.box;
    box.setAttribute('data-state', file.state);
    box.setAttribute('data-voice', file.voice ? 'true' : 'false');
    box.classList.toggle('voice', file.voice);
    const label = file.voice ? 'Voice note' : 'File';
    const head = el('p', { className: 'file-head' },
      icon(file.voice ? 'mic' : 'file'),
      el('span', { className: 'sr-only', text: `${label}: ` }),
      el('span', { className: 'file-name', 'data-testid': 'file-name', text: file.voice ? 'Voice note' : file.name }),
      el('span', { className: 'file-size', 'data-testid': 'file-size', text: formatSize(file.size) }));
    switch (file.state) {
      case 'sending':
      case 'receiving': {
        const bar = el('progress', { className: 'file-progress', 'data-testid': 'file-progress', max: String(Math.max(1, file.size)),
          value: String(file.done), 'aria-label': `${file.state === 'sending' ? 'Sending' : 'Receiving'} ${file.voice ? 'voice note' : file.name}` });
        const text = el('span', { className: 'file-progress-text', 'data-testid': 'file-progress-text' });
        const cancel = el('button', { type: 'button', className: 'small-button file-cancel', 'data-testid': 'file-cancel',
          text: 'Cancel', 'aria-label': `Cancel ${file.state === 'sending' ? 'sending' : 'receiving'} ${file.voice ? 'the voice note' : file.name}`,
          on: { click: () => this.o.onCancel(id) } });
        box.replaceChildren(head, el('div', { className: 'file-transfer' }, bar, text, cancel));
        this.drawProgress(box, file);
        return;
      }
      case 'failed':
        box.replaceChildren(head, el('p', { className: 'file-error', 'data-testid': 'file-error', text: `file failed: ${file.error ?? 'unknown reason'}` }));
        return;
      case 'cancelled':
        box.replaceChildren(head, el('p', { className: 'file-note', 'data-testid': 'file-cancelled',
          text: file.dir === 'out' ? 'You cancelled sending this file.' : 'You cancelled this file; nothing of it was kept.' }));
        return;
      case 'done':
        if (file.blob && !file.media) {
          // Any other file: its name is the download link.
          const url = this.url(s, file.blob);
          const name = /** @type {HTMLElement} */ (head.querySelector('.file-name'));
          name.replaceWith(el('a', { className: 'file-name file-download', 'data-testid': 'file-download', href: url,
            download: file.name, rel: 'noopener noreferrer', title: 'Save this file' },
          el('span', { 'data-testid': 'file-name', text: file.name })));
          box.replaceChildren(head);
          return;
        }
        box.replaceChildren(head, ...this.content(s, file));
    }
  }

  /**
   * @param {HTMLElement} box
   * @param {FileState} file
   */
  drawProgress(box, file) {
    const bar = /** @type {HTMLProgressElement|null} */ (box.querySelector('progress'));
    const text = box.querySelector('.file-progress-text');
    if (bar) bar.value = file.done;
    const pct = file.size > 0 ? Math.floor((100 * file.done) / file.size) : 0;
    if (text) text.textContent = `${formatSize(file.done)} of ${formatSize(file.size)} · ${pct}%`;
  }

  /**
   * What a verified file shows: the picture or player (for a checked
   * media type) and always a download link.
   * @param {Shown} s
   * @param {FileState} file
   * @returns {HTMLElement[]}
   */
  content(s, file) {
    const m = file.media;
    if (!file.blob || !m) return [el('p', { className: 'file-note', text: 'This file is no longer here.' })];
    const url = this.url(s, file.blob);
    const what = file.voice ? 'voice note' : file.name;
    const link = el('p', { className: 'file-save' },
      el('a', { className: 'file-download', 'data-testid': 'file-download', href: url, download: file.name, rel: 'noopener noreferrer',
        'aria-label': `Save ${m.kind === 'image' ? 'the picture' : `the ${what}`} (${formatSize(file.size)})` },
      `Save ${m.kind === 'image' ? 'picture' : file.voice ? 'voice note' : m.kind}`));
    /** @type {HTMLElement} */
    let media;
    if (m.kind === 'image') {
      media = el('img', { className: 'file-image', 'data-testid': 'file-image', src: url, alt: `Picture from ${s.alias}: ${file.name}`,
        decoding: 'async' });
    } else {
      media = el(m.kind, { className: `file-${m.kind}`, 'data-testid': `file-${m.kind}`, src: url, controls: true,
        preload: 'metadata', 'aria-label': `${m.kind === 'audio' ? (file.voice ? 'Voice note' : 'Audio') : 'Video'} from ${s.alias}: ${what}` });
    }
    const fallback = el('p', { className: 'file-note', 'data-testid': 'file-unplayable', hidden: true,
      text: m.kind === 'image' ? 'This picture could not be shown; save it to open it.' : 'This browser cannot play it; save it to open it.' });
    media.addEventListener('error', () => {
      media.hidden = true;
      fallback.hidden = false;
    }, { once: true });
    return [media, fallback, link];
  }

  /**
   * A blob: URL for blob, revoked when the message goes.
   * @param {Shown} s
   * @param {Blob} blob
   * @returns {string}
   */
  url(s, blob) {
    const u = URL.createObjectURL(blob);
    s.urls.push(u);
    return u;
  }

  /**
   * A message left the screen: revoke its URLs.
   * @param {string} id
   */
  drop(id) {
    const s = this.shown.get(id);
    if (!s) return;
    this.shown.delete(id);
    for (const u of s.urls) URL.revokeObjectURL(u);
    for (const m of s.box.querySelectorAll('img, audio, video')) m.removeAttribute('src');
    s.box.replaceChildren();
  }

  /** Everything left the screen. */
  dropAll() {
    for (const id of Array.from(this.shown.keys())) this.drop(id);
  }
}
