// @ts-check
// ui/dom.js: the only way the views build DOM. Text always goes in as
// textContent; attributes through setAttribute, never an event handler
// attribute; there is no innerHTML anywhere in the client.

/**
 * @typedef {{[name: string]: string|number|boolean|null|undefined|((ev: any) => void)|{[k: string]: (ev: any) => void}}} Props
 */

/**
 * Make an element. props: attributes (string values; true for a bare
 * attribute, false/null/undefined to leave it out), plus the special keys
 * text (textContent), on ({event: handler}) and className.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Props} [props]
 * @param {...(Node|string|null|undefined|false)} children strings become text nodes
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') {
      e.textContent = String(v);
    } else if (k === 'on') {
      for (const [type, fn] of Object.entries(/** @type {{[k: string]: (ev: any) => void}} */ (v))) {
        e.addEventListener(type, fn);
      }
    } else if (k === 'className') {
      e.className = String(v);
    } else {
      if (/^on/i.test(k)) throw new Error(`el: refusing event handler attribute ${k}`);
      e.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    e.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return e;
}

/**
 * Find an element by id, or throw.
 * @param {string} id
 * @returns {HTMLElement}
 */
export function byId(id) {
  const e = document.getElementById(id);
  if (!e) throw new Error(`no element #${id}`);
  return e;
}

/** Remove every message from the screen reader announcer. */
export function clearAnnouncer() {
  document.getElementById('announcer')?.replaceChildren();
}

/**
 * Say text through the polite live region. Lines are removed after 15 s (a
 * screen reader has read them by then) so no message text lingers off
 * screen, and at once by forget(key) when their message vanishes.
 * @param {string} text
 * @param {string} [key] the message this line is about
 */
export function announce(text, key) {
  const a = document.getElementById('announcer');
  if (!a) return;
  const line = el('p', { text, 'data-key': key });
  a.append(line);
  setTimeout(() => line.remove(), 15000);
  while (a.childElementCount > 5) a.firstElementChild?.remove();
}

/**
 * Remove what the live region still holds about one message.
 * @param {string} key
 */
export function forget(key) {
  for (const line of document.querySelectorAll('#announcer > p[data-key]')) {
    if (line.getAttribute('data-key') === key) line.remove();
  }
}

/**
 * Move focus to e (headings get tabindex=-1 so they can take it).
 * @param {HTMLElement|null} e
 */
export function focus(e) {
  if (!e) return;
  if (!e.hasAttribute('tabindex') && !(e instanceof HTMLInputElement || e instanceof HTMLButtonElement ||
      e instanceof HTMLTextAreaElement || e instanceof HTMLSelectElement)) {
    e.setAttribute('tabindex', '-1');
  }
  e.focus({ preventScroll: false });
}

/**
 * Copy text to the clipboard; resolves to whether it worked.
 * @param {string} text
 * @returns {Promise<boolean>}
 */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * "mm:ss" below an hour, "h:mm:ss" from there.
 * @param {number} ms
 * @returns {string}
 */
export function formatCountdown(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/**
 * What a self-destruct timer shows: "vanishes in 42 s", or in mm:ss.
 * @param {number} ms
 * @returns {string}
 */
export function vanishText(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return s >= 60 ? `vanishes in ${formatCountdown(s * 1000)}` : `vanishes in ${s} s`;
}

/**
 * A time of day as hours and minutes, in the person's locale.
 * @param {Date} d
 * @returns {string}
 */
export function clock(d) {
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/**
 * A person-readable duration for a countdown's accessible label.
 * @param {number} ms
 * @returns {string}
 */
export function spokenDuration(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  /** @type {string[]} */
  const parts = [];
  if (h) parts.push(`${h} hour${h === 1 ? '' : 's'}`);
  if (m) parts.push(`${m} minute${m === 1 ? '' : 's'}`);
  if (!h && (s || !m)) parts.push(`${s} second${s === 1 ? '' : 's'}`);
  return parts.join(' ');
}

/**
 * A lifetime in minutes or seconds as words, for the lifetime select.
 * @param {number} seconds
 * @returns {string}
 */
export function lifetimeLabel(seconds) {
  if (seconds % 86400 === 0) return seconds === 86400 ? '24 hours' : `${seconds / 86400} days`;
  if (seconds % 3600 === 0) return seconds === 3600 ? '1 hour' : `${seconds / 3600} hours`;
  if (seconds % 60 === 0) return seconds === 60 ? '1 minute' : `${seconds / 60} minutes`;
  return `${seconds} seconds`;
}
