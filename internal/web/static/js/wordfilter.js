// @ts-check
// wordfilter.js: the person's own word filter (docs/protocol.md section
// 9.3, last paragraph): a list of words and phrases, and whether a message
// that contains one is hidden or blurred. It runs in this tab only, is off
// until the person writes a list, and is kept in memory only: never in any
// storage, never sent. Pure: no DOM.

/** At most this many entries, each at most MAX_ENTRY characters. */
export const MAX_ENTRIES = 200;
export const MAX_ENTRY = 100;

/**
 * Text as the filter compares it: NFKC, lower case, format characters
 * (zero-width joiners, direction marks) removed, runs of white space as one
 * space.
 * @param {string} s
 * @returns {string}
 */
export function foldText(s) {
  return s.normalize('NFKC').replace(/\p{Cf}/gu, '').toLowerCase().normalize('NFKC').replace(/\s+/gu, ' ');
}

/**
 * The entries of a list as typed, one per line: folded, trimmed, without
 * empty lines or repeats, at most MAX_ENTRIES of at most MAX_ENTRY
 * characters.
 * @param {string} text
 * @returns {string[]}
 */
export function parseList(text) {
  /** @type {string[]} */
  const out = [];
  for (const line of text.split(/\r?\n/)) {
    const w = Array.from(foldText(line).trim()).slice(0, MAX_ENTRY).join('').trim();
    if (w !== '' && !out.includes(w)) out.push(w);
    if (out.length >= MAX_ENTRIES) break;
  }
  return out;
}

/** @param {string} s */
function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/**
 * A word filter: entries match whole words (or phrases) case-insensitively
 * after NFKC, so "ass" hides "ASS!" but not "class".
 */
export class WordFilter {
  /**
   * @param {string[]} [entries] as parseList returns them
   * @param {'hide'|'blur'} [mode]
   */
  constructor(entries = [], mode = 'hide') {
    /** @type {string[]} */
    this.entries = [];
    /** @type {'hide'|'blur'} */
    this.mode = mode;
    /** @type {RegExp|null} */
    this.re = null;
    this.set(entries, mode);
  }

  /**
   * Replace the list and the mode.
   * @param {string[]} entries
   * @param {'hide'|'blur'} mode
   */
  set(entries, mode) {
    this.entries = entries.map(foldText).map((w) => w.trim()).filter((w) => w !== '').slice(0, MAX_ENTRIES);
    this.mode = mode === 'blur' ? 'blur' : 'hide';
    this.re = this.entries.length === 0 ? null
      : new RegExp(`(?<![\\p{L}\\p{N}\\p{M}])(?:${this.entries.map(escapeRegExp).join('|')})(?![\\p{L}\\p{N}\\p{M}])`, 'u');
  }

  /** Whether the filter is on (its list is not empty). */
  get on() {
    return this.re !== null;
  }

  /**
   * Whether text contains one of the entries.
   * @param {string} text
   * @returns {boolean}
   */
  matches(text) {
    return this.re !== null && this.re.test(foldText(text));
  }

  /** Forget the list. */
  clear() {
    this.set([], this.mode);
  }
}
