// @ts-check
// envelope.js: veil's envelope layout (docs/protocol.md section 5, and the
// suite-2 header rules of section 7): padding to buckets, sealing and
// signing, signature checks, decryption, and the suite-1 seal and open.
// Pure: no DOM, no network, no storage. Every opener throws on anything it
// cannot authenticate.

import {
  KIND, HEADER_LEN, NONCE_LEN, SIG_LEN, MIN_ENVELOPE, VERSION, SUITE, SUITE2, encodeHeader, parseHeader,
} from './protocol.js';
import { bs, concat, equalBytes } from './bytes.js';
import { subtle, randomBytes } from './primitives.js';

/** @typedef {import('./protocol.js').Header} Header */

/** Padding buckets (section 5.1) and the largest data that fits. */
export const BUCKETS = Object.freeze([256, 1024, 4096, 16384, 65536]);
export const MAX_DATA = 65532;

// ---------------------------------------------------------------- padding

/**
 * u32(len) || data || zeros, up to the first bucket that fits (section 5.1).
 * @param {Uint8Array} data at most 65532 bytes
 * @returns {Uint8Array}
 */
export function pad(data) {
  if (data.length > MAX_DATA) throw new Error(`pad: ${data.length} bytes is over the limit of ${MAX_DATA}`);
  const size = /** @type {number} */ (BUCKETS.find((b) => b >= data.length + 4));
  const out = new Uint8Array(size);
  new DataView(out.buffer).setUint32(0, data.length);
  out.set(data, 4);
  return out;
}

/**
 * Undo pad. Throws if the length does not fit or a padding byte is not zero.
 * @param {Uint8Array} padded
 * @returns {Uint8Array} a view into padded
 */
export function unpad(padded) {
  if (![256, 1024, 4096, 16384, 65536].includes(padded.length)) throw new Error('unpad: not a bucket size');
  const n = new DataView(padded.buffer, padded.byteOffset, 4).getUint32(0);
  if (n > padded.length - 4) throw new Error('unpad: length does not fit');
  let nz = 0;
  for (let i = 4 + n; i < padded.length; i++) nz |= padded[i];
  if (nz !== 0) throw new Error('unpad: non-zero padding');
  return padded.subarray(4, 4 + n);
}

// ---------------------------------------------------------------- envelopes

/**
 * @typedef {object} SealOptions
 * @property {number} kind          KIND.HELLO, KIND.MSG or KIND.DM (suite 1; suite 2 has sealChainMessage)
 * @property {Uint8Array} rid
 * @property {number} sender        own session id
 * @property {number} [to]          recipient session id, for kind 3
 * @property {number} [epoch]       0 in suite 1
 * @property {number|bigint} seq    starts at 1, +1 per envelope sent
 * @property {CryptoKey} key        kRos, kMsg or the DM key
 * @property {CryptoKey} edPriv     own Ed25519 key
 * @property {Uint8Array} data      the plaintext, at most 65532 bytes
 * @property {Uint8Array} [nonce]   12 bytes; random unless given (tests only)
 */

/**
 * Seal an envelope (section 5): header || nonce || AES-256-GCM(pad(data),
 * aad = header) || Ed25519 signature over all of that.
 * @param {SealOptions} o
 * @returns {Promise<Uint8Array>}
 */
export async function sealEnvelope(o) {
  const to = o.to ?? 0;
  if (o.kind === KIND.DM ? to === 0 : to !== 0) throw new Error('seal: "to" is set for kind 3 only');
  const header = encodeHeader({ kind: o.kind, rid: o.rid, sender: o.sender, to, epoch: o.epoch ?? 0, seq: o.seq });
  const padded = pad(o.data);
  try {
    return await sealBody(header, o.key, padded, o.edPriv, o.nonce);
  } finally {
    padded.fill(0);
  }
}

/**
 * @param {Uint8Array|CryptoKey} pub
 * @returns {Promise<CryptoKey>}
 */
async function verifyKey(pub) {
  if (!(pub instanceof Uint8Array)) return pub;
  if (pub.length !== 32) throw new Error('Ed25519 public key must be 32 bytes');
  return subtle.importKey('raw', bs(pub), { name: 'Ed25519' }, true, ['verify']);
}

/**
 * Check an envelope's Ed25519 signature.
 * @param {Uint8Array} env
 * @param {Uint8Array|CryptoKey} edPub
 * @returns {Promise<boolean>}
 */
export async function verifyEnvelope(env, edPub) {
  if (env.length < MIN_ENVELOPE) return false;
  const split = env.length - SIG_LEN;
  return subtle.verify({ name: 'Ed25519' }, await verifyKey(edPub), bs(env.subarray(split)), bs(env.subarray(0, split)));
}

/**
 * Decrypt an envelope whose signature is already checked.
 * @param {Uint8Array} env
 * @param {CryptoKey} key
 * @returns {Promise<Uint8Array>}
 */
export async function decryptEnvelope(env, key) {
  const header = env.subarray(0, HEADER_LEN);
  const nonce = env.subarray(HEADER_LEN, HEADER_LEN + NONCE_LEN);
  const ct = env.subarray(HEADER_LEN + NONCE_LEN, env.length - SIG_LEN);
  let padded;
  try {
    padded = new Uint8Array(await subtle.decrypt(
      { name: 'AES-GCM', iv: bs(nonce), additionalData: bs(header), tagLength: 128 }, key, bs(ct)));
  } catch (e) {
    throw new Error('open: ciphertext does not authenticate', { cause: e });
  }
  return unpad(padded);
}

/**
 * @param {Header} h
 */
export function checkHeader(h) {
  if (h.version !== VERSION) throw new Error(`open: unknown version ${h.version}`);
  if (h.suite !== SUITE) throw new Error(`open: unknown suite ${h.suite}`);
  if (h.flags !== 0) throw new Error(`open: unknown flags ${h.flags}`);
  if (h.kind !== KIND.HELLO && h.kind !== KIND.MSG && h.kind !== KIND.DM) throw new Error(`open: unknown kind ${h.kind}`);
}

/**
 * Open an envelope: check version, suite and flags, verify the signature
 * under edPub, decrypt with key, remove the padding. Throws on any failure.
 * Optional checks: rid (this room) and self (for kind 3, "to" must be us).
 * Sequence numbers are the caller's to track.
 * @param {Uint8Array} env
 * @param {{key: CryptoKey, edPub: Uint8Array|CryptoKey, rid?: Uint8Array, self?: number}} o
 * @returns {Promise<{header: Header, data: Uint8Array}>}
 */
export async function openEnvelope(env, o) {
  const header = parseHeader(env);
  checkHeader(header);
  if (o.rid && !equalBytes(header.rid, o.rid)) throw new Error('open: envelope is for another room');
  if (o.self !== undefined && header.kind === KIND.DM && header.to !== o.self) throw new Error('open: direct message for another member');
  if (!(await verifyEnvelope(env, o.edPub))) throw new Error('open: bad signature');
  return { header, data: await decryptEnvelope(env, o.key) };
}

// ---------------------------------------------------------------- sealing and judging

/**
 * header || nonce || AES-GCM(key, nonce, plaintext, aad = header) || Ed25519
 * signature over all of it.
 * @param {Uint8Array} header
 * @param {CryptoKey} key
 * @param {Uint8Array} plaintext already padded
 * @param {CryptoKey} edPriv
 * @param {Uint8Array} [nonce] 12 bytes; random unless given (tests only)
 * @returns {Promise<Uint8Array>}
 */
export async function sealBody(header, key, plaintext, edPriv, nonce) {
  const n = nonce ?? randomBytes(NONCE_LEN);
  if (n.length !== NONCE_LEN) throw new Error('seal: nonce must be 12 bytes');
  const ct = new Uint8Array(await subtle.encrypt(
    { name: 'AES-GCM', iv: bs(n), additionalData: bs(header), tagLength: 128 }, key, bs(plaintext)));
  return signed(concat(header, n, ct), edPriv);
}

/**
 * body || Ed25519(edPriv, body).
 * @param {Uint8Array} body
 * @param {CryptoKey} edPriv
 * @returns {Promise<Uint8Array>}
 */
export async function signed(body, edPriv) {
  const sig = new Uint8Array(await subtle.sign({ name: 'Ed25519' }, edPriv, bs(body)));
  return concat(body, sig);
}

/**
 * Parse and judge a suite-2 header: version 1, suite 2, flags 0, one of
 * kinds, a non-zero sender, epoch and seq, and "to" set exactly for kinds 3,
 * 4 and 5; then o.rid (this room) and o.self (for a directed kind, "to" must
 * be us) when given.
 * @param {Uint8Array} env
 * @param {number[]} kinds
 * @param {{rid?: Uint8Array, self?: number}} o
 * @returns {Header}
 */
export function suite2Header(env, kinds, o) {
  const h = parseHeader(env);
  if (h.version !== VERSION) throw new Error(`open: unknown version ${h.version}`);
  if (h.suite !== SUITE2) throw new Error(`open: suite ${h.suite}, want ${SUITE2}`);
  if (h.flags !== 0) throw new Error(`open: unknown flags ${h.flags}`);
  if (!kinds.includes(h.kind)) throw new Error(`open: kind ${h.kind}, want ${kinds.join(' or ')}`);
  if (h.sender === 0) throw new Error('open: sender 0');
  const directed = h.kind !== KIND.MSG;
  if (directed ? h.to === 0 : h.to !== 0) throw new Error(`open: kind ${h.kind} with to = ${h.to}`);
  if (h.epoch === 0) throw new Error('open: epoch 0');
  if (h.seq === 0n) throw new Error('open: seq 0');
  if (o.rid && !equalBytes(h.rid, o.rid)) throw new Error('open: envelope is for another room');
  if (o.self !== undefined && directed && h.to !== o.self) throw new Error('open: envelope for another member');
  return h;
}

/**
 * Check a signature and throw 'open: bad signature' unless it verifies.
 * @param {Uint8Array} env
 * @param {Uint8Array|CryptoKey} edPub
 */
export async function requireSignature(env, edPub) {
  if (!(await verifyEnvelope(env, edPub))) throw new Error('open: bad signature');
}
