// @ts-check
// bytes.js: byte-string helpers for veil's browser crypto: UTF-8, hex,
// base64url, concatenation, comparison and fixed-width integers. Pure: no
// WebCrypto, no DOM; the lowest of the e2ee modules (e2ee.js re-exports the
// public names).

/** UTF-8 encoder and a strict decoder shared by the client. */
export const enc = new TextEncoder();
export const dec = new TextDecoder('utf-8', { fatal: true });

/**
 * WebCrypto accepts any Uint8Array; newer TypeScript libs want
 * Uint8Array<ArrayBuffer>. This only tells the type checker.
 * @param {Uint8Array} b
 * @returns {BufferSource}
 */
export const bs = (b) => /** @type {BufferSource} */ (/** @type {unknown} */ (b));

/**
 * @param {string} s hex digits
 * @returns {Uint8Array}
 */
export function hex(s) {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new Error('bad hex');
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * @param {Uint8Array} b
 * @returns {string} lowercase hex
 */
export function toHex(b) {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

/**
 * @param {...Uint8Array} parts
 * @returns {Uint8Array}
 */
export function concat(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

/**
 * Equality of two byte strings in time independent of where they differ.
 * @param {Uint8Array} a
 * @param {Uint8Array} b
 * @returns {boolean}
 */
export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

/**
 * @param {number} n
 * @returns {Uint8Array} 4 bytes, big-endian
 */
export function u32be(n) {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64_INDEX = (() => {
  const t = new Int16Array(128).fill(-1);
  for (let i = 0; i < B64.length; i++) t[B64.charCodeAt(i)] = i;
  return t;
})();

/**
 * base64url without padding.
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function b64url(bytes) {
  let s = '';
  let i = 0;
  for (; i + 3 <= bytes.length; i += 3) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    s += B64[v >> 18] + B64[(v >> 12) & 63] + B64[(v >> 6) & 63] + B64[v & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const v = bytes[i] << 16;
    s += B64[v >> 18] + B64[(v >> 12) & 63];
  } else if (rest === 2) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8);
    s += B64[v >> 18] + B64[(v >> 12) & 63] + B64[(v >> 6) & 63];
  }
  return s;
}

/**
 * Decode base64url without padding. Throws on any other character, on
 * padding, on an impossible length and on non-zero trailing bits, so every
 * byte string has exactly one accepted spelling.
 * @param {string} s
 * @returns {Uint8Array}
 */
export function fromB64url(s) {
  if (typeof s !== 'string') throw new Error('base64url: not a string');
  if (s.length % 4 === 1) throw new Error('base64url: bad length');
  /** @param {number} i */
  const at = (i) => {
    const c = s.charCodeAt(i);
    const v = c < 128 ? B64_INDEX[c] : -1;
    if (v < 0) throw new Error('base64url: bad character');
    return v;
  };
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let o = 0;
  let i = 0;
  for (; i + 4 <= s.length; i += 4) {
    const v = (at(i) << 18) | (at(i + 1) << 12) | (at(i + 2) << 6) | at(i + 3);
    out[o++] = v >> 16; out[o++] = (v >> 8) & 255; out[o++] = v & 255;
  }
  const rest = s.length - i;
  if (rest === 2) {
    const v = (at(i) << 18) | (at(i + 1) << 12);
    if (v & 0xffff) throw new Error('base64url: non-zero trailing bits');
    out[o++] = v >> 16;
  } else if (rest === 3) {
    const v = (at(i) << 18) | (at(i + 1) << 12) | (at(i + 2) << 6);
    if (v & 0xff) throw new Error('base64url: non-zero trailing bits');
    out[o++] = v >> 16; out[o++] = (v >> 8) & 255;
  }
  return out;
}

/**
 * @param {bigint|number} n
 * @returns {Uint8Array} 8 bytes, big-endian
 */
export function u64be(n) {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}

/**
 * @param {unknown} b
 * @param {number} n
 * @param {string} what
 * @returns {asserts b is Uint8Array}
 */
export function need(b, n, what) {
  if (!(b instanceof Uint8Array) || b.length !== n) throw new Error(`${what} must be ${n} bytes`);
}

/**
 * Bytewise order of two byte strings (like Go's bytes.Compare).
 * @param {Uint8Array} a
 * @param {Uint8Array} b
 * @returns {number} -1, 0 or 1
 */
export function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}
