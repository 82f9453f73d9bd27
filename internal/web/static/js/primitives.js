// @ts-check
// primitives.js: the WebCrypto building blocks of veil's browser crypto:
// random bytes, SHA-256, HMAC, HKDF, AES-256-GCM key import and X25519
// (with its key import and ephemeral key pairs). Pure: no DOM, no network,
// no storage.

import { bs, hex, concat, need } from './bytes.js';

/** WebCrypto, shared by the e2ee modules. */
export const subtle = globalThis.crypto.subtle;

// RFC 8410 PKCS#8 prefixes: a 32-byte private key follows each.
export const PKCS8_ED25519 = hex('302e020100300506032b657004220420');
export const PKCS8_X25519 = hex('302e020100300506032b656e04220420');

/**
 * n bytes from the platform's CSPRNG.
 * @param {number} n
 * @returns {Uint8Array}
 */
export function randomBytes(n) {
  const out = new Uint8Array(n);
  // getRandomValues fills at most 65536 bytes per call.
  for (let i = 0; i < n; i += 65536) globalThis.crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
}

/**
 * @param {Uint8Array} bytes
 * @returns {Promise<Uint8Array>}
 */
export async function sha256(bytes) {
  return new Uint8Array(await subtle.digest('SHA-256', bs(bytes)));
}

/**
 * HKDF-SHA256 (extract and expand). An empty salt means 32 zero bytes, as in
 * RFC 5869 (HMAC pads its key with zeros, so the two are the same).
 * @param {Uint8Array} ikm
 * @param {Uint8Array} salt
 * @param {Uint8Array} info
 * @param {number} len bytes
 * @returns {Promise<Uint8Array>}
 */
export async function hkdf(ikm, salt, info, len) {
  const k = await subtle.importKey('raw', bs(ikm), 'HKDF', false, ['deriveBits']);
  return new Uint8Array(await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: bs(salt), info: bs(info) }, k, len * 8));
}

/**
 * Import 32 raw bytes as an AES-256-GCM key (extractable, so tests can
 * compare it byte for byte).
 * @param {Uint8Array} raw
 * @returns {Promise<CryptoKey>}
 */
export async function importAes(raw) {
  if (raw.length !== 32) throw new Error('AES key must be 32 bytes');
  return subtle.importKey('raw', bs(raw), { name: 'AES-GCM' }, true, ['encrypt', 'decrypt']);
}

/**
 * The raw bytes of an extractable key.
 * @param {CryptoKey} key
 * @returns {Promise<Uint8Array>}
 */
export async function exportRaw(key) {
  return new Uint8Array(await subtle.exportKey('raw', key));
}

/**
 * HMAC-SHA256(key, data). key must not be empty (WebCrypto refuses it).
 * @param {Uint8Array} key
 * @param {Uint8Array} data
 * @returns {Promise<Uint8Array>}
 */
export async function hmac(key, data) {
  const k = await subtle.importKey('raw', bs(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await subtle.sign('HMAC', k, bs(data)));
}

/**
 * HKDF-Extract (RFC 5869). An empty salt is 32 zero bytes, which HMAC
 * treats the same.
 * @param {Uint8Array} salt
 * @param {Uint8Array} ikm
 * @returns {Promise<Uint8Array>} 32 bytes
 */
export async function hkdfExtract(salt, ikm) {
  return hmac(salt.length === 0 ? new Uint8Array(32) : salt, ikm);
}

/**
 * HKDF-Expand (RFC 5869) with SHA-256; prk is used as is, not extracted.
 * @param {Uint8Array} prk at least 32 bytes
 * @param {Uint8Array} info
 * @param {number} len at most 255 * 32
 * @returns {Promise<Uint8Array>}
 */
export async function hkdfExpand(prk, info, len) {
  if (!Number.isInteger(len) || len < 0 || len > 255 * 32) throw new Error('hkdf: bad length');
  const k = await subtle.importKey('raw', bs(prk), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const out = new Uint8Array(len);
  let t = new Uint8Array(0);
  for (let i = 1, off = 0; off < len; i++) {
    t = new Uint8Array(await subtle.sign('HMAC', k, bs(concat(t, info, Uint8Array.of(i)))));
    out.set(t.subarray(0, Math.min(32, len - off)), off);
    off += 32;
  }
  t.fill(0);
  return out;
}

/**
 * Import 32 raw bytes as a non-extractable AES-256-GCM key.
 * @param {Uint8Array} raw
 * @returns {Promise<CryptoKey>}
 */
export async function aesKey(raw) {
  need(raw, 32, 'AES key');
  return subtle.importKey('raw', bs(raw), { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
}

// ---------------------------------------------------------------- X25519

/** X25519's base point u = 9: X25519(k, 9) is k's public key. */
const BASE_POINT = Uint8Array.of(9, ...new Uint8Array(31));

/**
 * X25519(priv, pub), rejecting an all-zero result (RFC 7748 section 6.1):
 * WebCrypto itself refuses one with an OperationError.
 * @param {CryptoKey} priv
 * @param {Uint8Array} pub 32 bytes
 * @returns {Promise<Uint8Array>}
 */
export async function x25519(priv, pub) {
  need(pub, 32, 'X25519 public key');
  const p = await subtle.importKey('raw', bs(pub), { name: 'X25519' }, true, []);
  let out;
  try {
    out = new Uint8Array(await subtle.deriveBits({ name: 'X25519', public: p }, priv, 256));
  } catch (e) {
    throw new Error('X25519 failed (all-zero shared secret)', { cause: e });
  }
  if (out.every((v) => v === 0)) throw new Error('X25519 failed (all-zero shared secret)');
  return out;
}

/**
 * The public key of an X25519 private key, which need not be extractable.
 * @param {CryptoKey} priv
 * @returns {Promise<Uint8Array>}
 */
export async function x25519Public(priv) {
  return x25519(priv, BASE_POINT);
}

/**
 * Import a 32-byte X25519 private scalar (RFC 7748) as a non-extractable key.
 * @param {Uint8Array} priv
 * @returns {Promise<CryptoKey>}
 */
export async function importX25519(priv) {
  need(priv, 32, 'X25519 private key');
  return subtle.importKey('pkcs8', bs(concat(PKCS8_X25519, priv)), { name: 'X25519' }, false, ['deriveBits']);
}

/**
 * A fresh ephemeral X25519 key pair for a DM handshake; the private key
 * cannot be exported.
 * @returns {Promise<{priv: CryptoKey, pub: Uint8Array}>}
 */
export async function newEphemeral() {
  const kp = /** @type {CryptoKeyPair} */ (await subtle.generateKey({ name: 'X25519' }, false, ['deriveBits']));
  return { priv: kp.privateKey, pub: await exportRaw(kp.publicKey) };
}

/**
 * An ephemeral key pair from a fixed 32-byte private scalar (test vectors).
 * @param {Uint8Array} priv
 * @returns {Promise<{priv: CryptoKey, pub: Uint8Array}>}
 */
export async function ephemeralFromBytes(priv) {
  const k = await importX25519(priv);
  return { priv: k, pub: await x25519Public(k) };
}
