// @ts-check
// alias.js: member aliases (docs/protocol.md section 5.3): normalisation
// and random "adjective-animal" aliases. Pure: no DOM, no network, no
// storage.

import { randomBytes } from './primitives.js';

/** Longest alias, in code points (section 5.3). */
export const MAX_ALIAS = 32;

/**
 * Normalise an alias (section 5.3): NFKC; remove control and format
 * characters (Cc other than the white-space controls, and Cf: zero-width and
 * direction marks among them); collapse
 * white space to one space; trim; keep at most 32 code points (and trim
 * again, so a cut never leaves a trailing space). '' stays '': the caller
 * substitutes randomAlias(). Lone surrogates become U+FFFD, as they would on
 * the wire.
 * @param {string} s
 * @returns {string}
 */
export function normalizeAlias(s) {
  let t = String(s ?? '');
  t = t.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
  t = t.normalize('NFKC');
  // Tab, LF, VT, FF and CR are Cc but count as white space (as in the Go
  // client and the shared vectors): "line\nbreak" -> "line break".
  t = t.replace(/[^\P{Cc}\t\n\v\f\r]|\p{Cf}/gu, '');
  t = t.replace(/\s+/gu, ' ').trim();
  const cps = Array.from(t);
  if (cps.length > MAX_ALIAS) t = cps.slice(0, MAX_ALIAS).join('').trimEnd();
  return t;
}

const ADJECTIVES = [
  'amber', 'brave', 'bright', 'calm', 'clever', 'cosmic', 'crimson', 'curious', 'dapper', 'eager',
  'fancy', 'fierce', 'gentle', 'glad', 'golden', 'happy', 'hidden', 'humble', 'jolly', 'kind',
  'lively', 'lucky', 'mellow', 'merry', 'misty', 'noble', 'patient', 'plucky', 'polite', 'proud',
  'quick', 'quiet', 'rapid', 'rosy', 'rustic', 'shy', 'silent', 'silver', 'sleepy', 'sly',
  'snowy', 'sunny', 'swift', 'tidy', 'velvet', 'vivid', 'wandering', 'warm', 'wild', 'witty',
];
const ANIMALS = [
  'badger', 'bat', 'bear', 'beaver', 'bison', 'crane', 'crow', 'deer', 'dingo', 'dolphin',
  'eagle', 'falcon', 'ferret', 'finch', 'fox', 'gecko', 'gull', 'hare', 'hedgehog', 'heron',
  'ibis', 'jackal', 'koala', 'lemur', 'lynx', 'marmot', 'mink', 'mole', 'moose', 'newt',
  'ocelot', 'orca', 'otter', 'owl', 'panda', 'puffin', 'quail', 'raven', 'robin', 'seal',
  'sparrow', 'stoat', 'swan', 'tapir', 'tiger', 'toad', 'vole', 'walrus', 'wolf', 'wren',
];

/**
 * A uniform random integer in [0, n), n at most 2^16.
 * @param {number} n
 * @returns {number}
 */
function randomBelow(n) {
  const limit = 65536 - (65536 % n);
  for (;;) {
    const b = randomBytes(2);
    const v = (b[0] << 8) | b[1];
    if (v < limit) return v % n;
  }
}

/**
 * A random "adjective-animal" alias, e.g. "quiet-otter".
 * @returns {string}
 */
export function randomAlias() {
  return `${ADJECTIVES[randomBelow(ADJECTIVES.length)]}-${ANIMALS[randomBelow(ANIMALS.length)]}`;
}

/** The built-in word lists, for tests. */
export const WORDS = Object.freeze({ adjectives: Object.freeze([...ADJECTIVES]), animals: Object.freeze([...ANIMALS]) });
