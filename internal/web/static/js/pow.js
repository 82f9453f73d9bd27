// @ts-check
// pow.js: the optional proof of work (docs/protocol.md section 10). A relay
// started with --pow asks every room creation and every JOIN for one; the
// client fetches a challenge and finds a nonce whose SHA-256 starts with
// enough zero bits. WebCrypto does the hashing; nothing is stored.

import { b64url, concat, fromB64url, u64be } from './bytes.js';

const LABEL = new TextEncoder().encode('veil/pow');
const MAX_BITS = 28;

/**
 * Leading zero bits of a digest.
 * @param {Uint8Array} d
 * @returns {number}
 */
export function zeroBits(d) {
  let z = 0;
  for (const b of d) {
    if (b !== 0) return z + Math.clz32(b) - 24;
    z += 8;
  }
  return z;
}

/**
 * Find a proof for challenge (base64url) of bits zero bits.
 * @param {string} challenge
 * @param {number} bits
 * @param {{signal?: AbortSignal, onProgress?: (tries: number) => void, subtle?: SubtleCrypto}} [o]
 * @returns {Promise<string>} "challenge.nonce", both base64url
 */
export async function solve(challenge, bits, o = {}) {
  const c = fromB64url(challenge);
  if (c.length !== 40) throw new Error('the server sent a malformed proof-of-work challenge');
  if (!(bits >= 0 && bits <= MAX_BITS)) throw new Error(`the server asks for ${bits} bits of work, more than ${MAX_BITS}`);
  const subtle = o.subtle ?? crypto.subtle;
  const buf = concat(LABEL, c, new Uint8Array(8));
  const view = new DataView(buf.buffer, buf.byteOffset + LABEL.length + c.length, 8);
  // Hash in batches so the page stays responsive and progress can be shown.
  for (let n = 0; ; n += 256) {
    if (o.signal?.aborted) throw new Error('proof of work cancelled');
    const batch = [];
    for (let i = 0; i < 256; i++) {
      view.setBigUint64(0, BigInt(n + i));
      batch.push(subtle.digest('SHA-256', buf.slice()));
    }
    const sums = await Promise.all(batch);
    for (let i = 0; i < sums.length; i++) {
      if (zeroBits(new Uint8Array(sums[i])) >= bits) {
        return `${challenge}.${b64url(u64be(BigInt(n + i)))}`;
      }
    }
    o.onProgress?.(n + 256);
  }
}

/**
 * Fetch a challenge from the relay serving this page and solve it.
 * @param {{signal?: AbortSignal, onProgress?: (tries: number) => void}} [o]
 * @returns {Promise<string>}
 */
export async function prove(o = {}) {
  const res = await fetch('/api/pow', { cache: 'no-store', credentials: 'omit', signal: o.signal });
  if (!res.ok) throw new Error(`the server answered ${res.status} for a proof-of-work challenge`);
  const ch = await res.json();
  if (typeof ch?.challenge !== 'string' || !Number.isInteger(ch?.bits)) {
    throw new Error('the server sent a malformed proof-of-work challenge');
  }
  return solve(ch.challenge, ch.bits, o);
}
