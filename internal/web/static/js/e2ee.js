// @ts-check
// e2ee.js: veil's end-to-end scheme for the browser (docs/protocol.md
// sections 1, 2, 3 (meta), 5 and 7). Key schedule, links, envelopes, padding,
// hellos, alias normalisation and fingerprints; suite 2: message chains,
// HPKE (RFC 9180) sender-key distribution, the DM handshake and safety codes.
// WebCrypto only (globalThis.crypto.subtle). Pure: no DOM, no network, no
// storage. Every opener throws on anything it cannot authenticate.

import {
  KIND, HEADER_LEN, NONCE_LEN, SIG_LEN, TAG_LEN, MIN_ENVELOPE, RID_LEN, VERSION, SUITE, SUITE2, MAX_HELLO, MAX_META,
  encodeHeader, parseHeader,
} from './protocol.js';

/** @typedef {import('./protocol.js').Header} Header */

/**
 * @typedef {object} Identity
 * @property {CryptoKey} edPriv  Ed25519 signing key
 * @property {Uint8Array} edPub  32 bytes
 * @property {CryptoKey} xPriv   X25519 key for deriveBits
 * @property {Uint8Array} xPub   32 bytes
 */

/**
 * @typedef {object} Room
 * @property {Uint8Array} rid       16 bytes, the only identifier the relay sees
 * @property {Uint8Array} join      32 bytes, presented in JOIN
 * @property {Uint8Array} verifier  32 bytes, SHA-256(join), registered at creation
 * @property {CryptoKey} roster     kRos: AES-256-GCM for hellos and meta (extractable)
 * @property {CryptoKey} msg        kMsg: AES-256-GCM for group messages (extractable)
 */

const subtle = globalThis.crypto.subtle;

/** UTF-8 encoder and a strict decoder shared by the client. */
export const enc = new TextEncoder();
export const dec = new TextDecoder('utf-8', { fatal: true });

/** Padding buckets (section 5.1) and the largest data that fits. */
export const BUCKETS = Object.freeze([256, 1024, 4096, 16384, 65536]);
export const MAX_DATA = 65532;
/** Longest alias, in code points (section 5.3). */
export const MAX_ALIAS = 32;
/** PBKDF2 iterations for a room password (section 2). */
export const PBKDF2_ITERATIONS = 600000;

const L_ROOM_ID = enc.encode('veil/room-id');
const L_PW = enc.encode('veil/pw');
const L_MASTER = enc.encode('veil/master');
const L_JOIN = enc.encode('veil/join');
const L_ROSTER = enc.encode('veil/roster');
const L_MSG = enc.encode('veil/msg');
const L_DM = enc.encode('veil/dm');
const L_META = enc.encode('veil/meta');

// RFC 8410 PKCS#8 prefixes: a 32-byte private key follows each.
const PKCS8_ED25519 = hex('302e020100300506032b657004220420');
const PKCS8_X25519 = hex('302e020100300506032b656e04220420');

// ---------------------------------------------------------------- bytes

/**
 * WebCrypto accepts any Uint8Array; newer TypeScript libs want
 * Uint8Array<ArrayBuffer>. This only tells the type checker.
 * @param {Uint8Array} b
 * @returns {BufferSource}
 */
const bs = (b) => /** @type {BufferSource} */ (/** @type {unknown} */ (b));

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
function u32be(n) {
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

// ---------------------------------------------------------------- link

/**
 * Parse a room link's fragment. Accepts "#1.xxx", "1.xxx", "#1p.xxx" and a
 * whole link ("https://host/#1.xxx"). Returns null unless the version is 1 or
 * 1p and the secret is exactly 32 bytes of canonical base64url.
 * @param {string} fragment
 * @returns {{secret: Uint8Array, hasPassword: boolean} | null}
 */
export function parseLink(fragment) {
  if (typeof fragment !== 'string') return null;
  let f = fragment.trim();
  const hash = f.indexOf('#');
  if (hash >= 0) f = f.slice(hash + 1);
  const dot = f.indexOf('.');
  if (dot < 0) return null;
  const version = f.slice(0, dot);
  if (version !== '1' && version !== '1p') return null;
  let secret;
  try {
    secret = fromB64url(f.slice(dot + 1));
  } catch {
    return null;
  }
  if (secret.length !== 32) return null;
  return { secret, hasPassword: version === '1p' };
}

/**
 * The shareable link for a room.
 * @param {string} origin e.g. "https://veil.example" (a trailing slash is dropped)
 * @param {Uint8Array} secret 32 bytes
 * @param {boolean} hasPassword
 * @returns {string}
 */
export function makeLink(origin, secret, hasPassword) {
  if (!(secret instanceof Uint8Array) || secret.length !== 32) throw new Error('secret must be 32 bytes');
  return `${origin.replace(/\/+$/, '')}/#${hasPassword ? '1p' : '1'}.${b64url(secret)}`;
}

// ---------------------------------------------------------------- keys

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
 * PBKDF2-HMAC-SHA256 of NFKC(password), salt "veil/pw" || rid, 600,000
 * iterations, 32 bytes (section 2).
 * @param {string} password non-empty
 * @param {Uint8Array} rid
 * @returns {Promise<Uint8Array>}
 */
export async function passwordKey(password, rid) {
  const pw = enc.encode(password.normalize('NFKC'));
  const k = await subtle.importKey('raw', bs(pw), 'PBKDF2', false, ['deriveBits']);
  const bits = await subtle.deriveBits(
    { name: 'PBKDF2', hash: 'SHA-256', salt: bs(concat(L_PW, rid)), iterations: PBKDF2_ITERATIONS }, k, 256);
  return new Uint8Array(bits);
}

/**
 * The room's key schedule (section 2). An empty or missing password means
 * "no password". With a password this takes PBKDF2's 600,000 iterations.
 * @param {Uint8Array} secret S, 32 bytes
 * @param {string} [password]
 * @returns {Promise<Room>}
 */
export async function deriveRoom(secret, password) {
  if (!(secret instanceof Uint8Array) || secret.length !== 32) throw new Error('secret must be 32 bytes');
  const rid = await hkdf(secret, new Uint8Array(0), L_ROOM_ID, RID_LEN);
  const p = password ? await passwordKey(password, rid) : new Uint8Array(0);
  // M = HKDF-Extract("veil/master", S || P); WebCrypto's HKDF is Extract
  // then Expand, so each output below is HKDF-Expand(M, info).
  const ikm = concat(secret, p);
  const [join, roster, msg] = await Promise.all([
    hkdf(ikm, L_MASTER, L_JOIN, 32),
    hkdf(ikm, L_MASTER, L_ROSTER, 32),
    hkdf(ikm, L_MASTER, L_MSG, 32),
  ]);
  const [verifier, rosterKey, msgKey] = await Promise.all([sha256(join), importAes(roster), importAes(msg)]);
  roster.fill(0);
  msg.fill(0);
  ikm.fill(0);
  p.fill(0);
  return { rid, join, verifier, roster: rosterKey, msg: msgKey };
}

/**
 * A fresh Ed25519 and X25519 key pair for one session. The private keys
 * cannot be exported.
 * @returns {Promise<Identity>}
 */
export async function newIdentity() {
  const ed = /** @type {CryptoKeyPair} */ (await subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']));
  const x = /** @type {CryptoKeyPair} */ (await subtle.generateKey({ name: 'X25519' }, false, ['deriveBits']));
  return {
    edPriv: ed.privateKey,
    edPub: await exportRaw(ed.publicKey),
    xPriv: x.privateKey,
    xPub: await exportRaw(x.publicKey),
  };
}

/**
 * An identity from fixed private keys, for test vectors: an Ed25519 seed
 * (RFC 8032) and an X25519 private scalar (RFC 7748), imported as RFC 8410
 * PKCS#8.
 * @param {Uint8Array} edSeed 32 bytes
 * @param {Uint8Array} xPriv 32 bytes
 * @returns {Promise<Identity>}
 */
export async function identityFromSeeds(edSeed, xPriv) {
  if (edSeed.length !== 32 || xPriv.length !== 32) throw new Error('seeds must be 32 bytes');
  const ed = await subtle.importKey('pkcs8', bs(concat(PKCS8_ED25519, edSeed)), { name: 'Ed25519' }, true, ['sign']);
  const x = await subtle.importKey('pkcs8', bs(concat(PKCS8_X25519, xPriv)), { name: 'X25519' }, true, ['deriveBits']);
  return { edPriv: ed, edPub: await publicOf(ed), xPriv: x, xPub: await publicOf(x) };
}

/**
 * @param {CryptoKey} priv an extractable OKP private key
 * @returns {Promise<Uint8Array>}
 */
async function publicOf(priv) {
  const jwk = await subtle.exportKey('jwk', priv);
  if (!jwk.x) throw new Error('cannot read the public key');
  return fromB64url(jwk.x);
}

/**
 * A member's fingerprint: the first 8 bytes of SHA-256(e || x) as four
 * groups of four lowercase hex digits, e.g. "3f9a-21c7-0b44-9e10".
 * @param {Uint8Array} edPub
 * @param {Uint8Array} xPub
 * @returns {Promise<string>}
 */
export async function fingerprint(edPub, xPub) {
  const h = toHex((await sha256(concat(edPub, xPub))).subarray(0, 8));
  return `${h.slice(0, 4)}-${h.slice(4, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}`;
}

/**
 * The direct-message key between sessions a and b (section 5):
 * HKDF(X25519(own, peer), salt = rid, info = "veil/dm" || u32(min) || u32(max)).
 * Both ends derive the same key. Rejects a peer key that yields the all-zero
 * shared secret.
 * @param {CryptoKey} xPriv own X25519 private key
 * @param {Uint8Array} peerXPub 32 bytes
 * @param {Uint8Array} rid
 * @param {number} a session id
 * @param {number} b session id
 * @returns {Promise<CryptoKey>}
 */
export async function dmKey(xPriv, peerXPub, rid, a, b) {
  if (!(peerXPub instanceof Uint8Array) || peerXPub.length !== 32) throw new Error('dm: peer key must be 32 bytes');
  const peer = await subtle.importKey('raw', bs(peerXPub), { name: 'X25519' }, true, []);
  let shared;
  try {
    shared = new Uint8Array(await subtle.deriveBits({ name: 'X25519', public: peer }, xPriv, 256));
  } catch (e) {
    // WebCrypto itself refuses an all-zero result with an OperationError.
    throw new Error('dm: X25519 failed (all-zero shared secret)', { cause: e });
  }
  if (shared.every((v) => v === 0)) throw new Error('dm: X25519 failed (all-zero shared secret)');
  const info = concat(L_DM, u32be(Math.min(a, b)), u32be(Math.max(a, b)));
  const raw = await hkdf(shared, rid, info, 32);
  shared.fill(0);
  const key = await importAes(raw);
  raw.fill(0);
  return key;
}

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
async function decryptEnvelope(env, key) {
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
function checkHeader(h) {
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

// ---------------------------------------------------------------- meta

/**
 * Seal the room's meta (section 3): nonce || AES-256-GCM(kRos, nonce,
 * JSON(obj), aad = "veil/meta" || rid). Throws if the result is over 1024
 * bytes (too long a room name).
 * @param {CryptoKey} roster
 * @param {Uint8Array} rid
 * @param {object} obj e.g. {name: "book club"}
 * @param {Uint8Array} [nonce] 12 bytes; random unless given (tests only)
 * @returns {Promise<Uint8Array>}
 */
export async function sealMeta(roster, rid, obj, nonce) {
  const n = nonce ?? randomBytes(NONCE_LEN);
  if (n.length !== NONCE_LEN) throw new Error('meta: nonce must be 12 bytes');
  const ct = new Uint8Array(await subtle.encrypt(
    { name: 'AES-GCM', iv: bs(n), additionalData: bs(concat(L_META, rid)), tagLength: 128 }, roster,
    bs(enc.encode(JSON.stringify(obj)))));
  const out = concat(n, ct);
  if (out.length > MAX_META) throw new Error(`meta: ${out.length} bytes sealed, at most ${MAX_META}`);
  return out;
}

/**
 * Open the room's meta. Throws unless it authenticates and is a JSON object.
 * @param {CryptoKey} roster
 * @param {Uint8Array} rid
 * @param {Uint8Array} bytes
 * @returns {Promise<object>}
 */
export async function openMeta(roster, rid, bytes) {
  if (bytes.length < NONCE_LEN + 16) throw new Error('meta: too short');
  let pt;
  try {
    pt = await subtle.decrypt(
      { name: 'AES-GCM', iv: bs(bytes.subarray(0, NONCE_LEN)), additionalData: bs(concat(L_META, rid)), tagLength: 128 },
      roster, bs(bytes.subarray(NONCE_LEN)));
  } catch (e) {
    throw new Error('meta: does not authenticate', { cause: e });
  }
  const obj = JSON.parse(dec.decode(pt));
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new Error('meta: not a JSON object');
  return obj;
}

// ---------------------------------------------------------------- hello

/**
 * Seal this session's hello (kind 1 under kRos): JSON {"alias", "x", "e"},
 * and "caps" when o.caps is non-empty (section 7.4; the browser announces
 * none). The alias is normalised here; an empty one becomes a random alias.
 * @param {{rid: Uint8Array, sender: number, seq: number|bigint, roster: CryptoKey,
 *          identity: Identity, alias: string, caps?: string[], nonce?: Uint8Array}} o
 * @returns {Promise<Uint8Array>}
 */
export async function sealHello(o) {
  const alias = normalizeAlias(o.alias) || randomAlias();
  /** @type {{alias: string, x: string, e: string, caps?: string[]}} */
  const hello = { alias, x: b64url(o.identity.xPub), e: b64url(o.identity.edPub) };
  if (o.caps && o.caps.length > 0) {
    if (!o.caps.every((c) => typeof c === 'string')) throw new Error('hello: caps must be strings');
    hello.caps = [...o.caps];
  }
  const data = enc.encode(JSON.stringify(hello));
  const env = await sealEnvelope({
    kind: KIND.HELLO, rid: o.rid, sender: o.sender, seq: o.seq, key: o.roster,
    edPriv: o.identity.edPriv, data, nonce: o.nonce,
  });
  if (env.length > MAX_HELLO) throw new Error('hello too large');
  return env;
}

/**
 * Open a hello: decrypt under kRos, then verify the signature under the
 * Ed25519 key inside it. The header must be kind 1 with a non-zero sender
 * and to = 0; expect.sender and expect.rid, when given, must match too.
 * The alias returned is normalised (section 5.3); the raw one is rawAlias.
 * caps is the hello's "caps" array (section 7.4), [] when it has none; a
 * "caps" that is not an array of strings is rejected.
 * @param {Uint8Array} env
 * @param {CryptoKey} roster
 * @param {{sender?: number, rid?: Uint8Array}} [expect]
 * @returns {Promise<{header: Header, alias: string, rawAlias: string, edPub: Uint8Array, xPub: Uint8Array,
 *                    caps: string[]}>}
 */
export async function openHello(env, roster, expect = {}) {
  const header = parseHeader(env);
  checkHeader(header);
  if (header.kind !== KIND.HELLO) throw new Error(`hello: kind ${header.kind}`);
  if (header.sender === 0) throw new Error('hello: sender 0');
  if (header.to !== 0) throw new Error('hello: "to" is set');
  if (expect.sender !== undefined && header.sender !== expect.sender) {
    throw new Error(`hello: sender ${header.sender}, want ${expect.sender}`);
  }
  if (expect.rid && !equalBytes(header.rid, expect.rid)) throw new Error('hello: another room');
  const data = await decryptEnvelope(env, roster);
  let obj;
  try {
    obj = JSON.parse(dec.decode(data));
  } catch (e) {
    throw new Error('hello: not UTF-8 JSON', { cause: e });
  }
  if (obj === null || typeof obj !== 'object' || typeof obj.alias !== 'string' ||
      typeof obj.x !== 'string' || typeof obj.e !== 'string') {
    throw new Error('hello: want {"alias", "x", "e"}');
  }
  if (obj.caps !== undefined && !(Array.isArray(obj.caps) && obj.caps.every((c) => typeof c === 'string'))) {
    throw new Error('hello: "caps" must be an array of strings');
  }
  const xPub = fromB64url(obj.x);
  const edPub = fromB64url(obj.e);
  if (xPub.length !== 32 || edPub.length !== 32) throw new Error('hello: keys must be 32 bytes');
  if (!(await verifyEnvelope(env, edPub))) throw new Error('hello: bad signature');
  /** @type {string[]} */
  const caps = obj.caps ? [...obj.caps] : [];
  return { header, alias: normalizeAlias(obj.alias), rawAlias: obj.alias, edPub, xPub, caps };
}

// ---------------------------------------------------------------- aliases

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

// ================================================================ suite 2
// docs/protocol.md section 7: message chains, sender keys over HPKE, the DM
// handshake and safety codes. Keys derived here never come from the link,
// so recorded traffic stays sealed once the chain keys are erased.

export { SUITE2 };

/** Limits of section 7.5 and the epoch length of section 7.2. */
export const MAX_JUMP = 2000, MAX_SKIPPED = 2000, EPOCH_MESSAGES = 100, EPOCH_MS = 600000;

/** The hello capability for the hybrid (ML-KEM-768) DM handshake; the browser never announces it. */
export const CAP_MLKEM = 'mlkem768';

/** Sizes of ML-KEM-768's encapsulation key and ciphertext (FIPS 203). */
const MLKEM_EK_LEN = 1184;
const MLKEM_CT_LEN = 1088;

const L_SK = enc.encode('veil/sk');
const L_DM_ROOT = enc.encode('veil/dm/root');
const L_DM_A2B = enc.encode('veil/dm/a2b');
const L_DM_B2A = enc.encode('veil/dm/b2a');
const L_DM_SAFETY = enc.encode('veil/dm-safety');
const L_MEMBER_SAFETY = enc.encode('veil/member-safety');

/**
 * An Error whose .code a caller can branch on ('replay', 'jump', 'erased').
 * @param {string} code
 * @param {string} message
 * @returns {Error & {code: string}}
 */
function codeError(code, message) {
  return Object.assign(new Error(message), { code });
}

/**
 * @param {unknown} b
 * @param {number} n
 * @param {string} what
 * @returns {asserts b is Uint8Array}
 */
function need(b, n, what) {
  if (!(b instanceof Uint8Array) || b.length !== n) throw new Error(`${what} must be ${n} bytes`);
}

/**
 * @param {bigint|number} n
 * @returns {Uint8Array} 8 bytes, big-endian
 */
function u64be(n) {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}

/**
 * HMAC-SHA256(key, data). key must not be empty (WebCrypto refuses it).
 * @param {Uint8Array} key
 * @param {Uint8Array} data
 * @returns {Promise<Uint8Array>}
 */
async function hmac(key, data) {
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
async function aesKey(raw) {
  need(raw, 32, 'AES key');
  return subtle.importKey('raw', bs(raw), { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
}

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
async function sealBody(header, key, plaintext, edPriv, nonce) {
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
async function signed(body, edPriv) {
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
function suite2Header(env, kinds, o) {
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
async function requireSignature(env, edPub) {
  if (!(await verifyEnvelope(env, edPub))) throw new Error('open: bad signature');
}

// ---------------------------------------------------------------- 7.1 chains

/**
 * One step of a chain (section 7.1): mk = HMAC(ck, 0x01), the message key,
 * and next = HMAC(ck, 0x02), the following chain key. The caller erases ck.
 * @param {Uint8Array} ck 32 bytes
 * @returns {Promise<{mk: Uint8Array, next: Uint8Array}>}
 */
export async function chainStep(ck) {
  need(ck, 32, 'chain key');
  const k = await subtle.importKey('raw', bs(ck), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const [mk, next] = await Promise.all([
    subtle.sign('HMAC', k, bs(Uint8Array.of(1))),
    subtle.sign('HMAC', k, bs(Uint8Array.of(2))),
  ]);
  return { mk: new Uint8Array(mk), next: new Uint8Array(next) };
}

/**
 * @param {number|bigint} seq
 * @returns {number} seq as a number, or Infinity when it is past 2^53
 */
function seqNumber(seq) {
  if (typeof seq === 'bigint') {
    if (seq < 0n) throw new Error('seq must not be negative');
    return seq > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(seq);
  }
  if (!Number.isInteger(seq) || seq < 0) throw new Error('seq must be a non-negative integer');
  return seq;
}

/**
 * A sending chain (sections 7.1, 7.2): each next() gives the key and seq of
 * one message and erases the chain key it came from. Calls are serialised,
 * so concurrent next() calls never share a key.
 */
export class SendChain {
  /** @type {Uint8Array|null} */
  #ck;
  /** @type {number} */
  #n;
  /** @type {Promise<unknown>} */
  #lock = Promise.resolve();

  /**
   * @param {Uint8Array} ck CK_n, 32 bytes (copied)
   * @param {number} [n] its index, 1 at the start of an epoch
   */
  constructor(ck, n = 1) {
    need(ck, 32, 'chain key');
    if (!Number.isSafeInteger(n) || n < 1) throw new Error('chain index must be a positive integer');
    this.#ck = ck.slice();
    this.#n = n;
  }

  /** The index (seq) the next message will have. */
  get n() { return this.#n; }

  /** Whether erase() was called. */
  get erased() { return this.#ck === null; }

  /**
   * @template T
   * @param {() => Promise<T>} f
   * @returns {Promise<T>}
   */
  #serial(f) {
    const p = this.#lock.then(f);
    this.#lock = p.catch(() => {});
    return p;
  }

  /**
   * The key and seq of the next message. Throws (code 'erased') after erase().
   * @returns {Promise<{mk: Uint8Array, seq: number}>}
   */
  next() {
    return this.#serial(async () => {
      const ck = this.#ck;
      if (!ck) throw codeError('erased', 'chain: erased');
      const { mk, next } = await chainStep(ck);
      if (this.#ck !== ck) { // erased meanwhile
        mk.fill(0); next.fill(0);
        throw codeError('erased', 'chain: erased');
      }
      ck.fill(0);
      this.#ck = next;
      return { mk, seq: this.#n++ };
    });
  }

  /**
   * The current chain key (a copy) and the index of the next message: what a
   * kind-4 to a newcomer carries, so it reads from now on and never earlier.
   * @returns {Promise<{ck: Uint8Array, n: number}>}
   */
  snapshot() {
    return this.#serial(async () => {
      if (!this.#ck) throw codeError('erased', 'chain: erased');
      return { ck: this.#ck.slice(), n: this.#n };
    });
  }

  /** Overwrite the chain key; the chain is unusable from now on. */
  erase() {
    if (this.#ck) this.#ck.fill(0);
    this.#ck = null;
  }
}

/**
 * A receiving chain (sections 7.1 to 7.3) with a bounded window of skipped
 * keys: a forward jump of at most MAX_JUMP, at most MAX_SKIPPED stored keys
 * (the oldest go first), each skipped key used once.
 */
export class RecvChain {
  /** @type {Uint8Array|null} */
  #ck;
  /** Index of the next expected message. */
  #m;
  /** Skipped message keys by index, oldest (lowest) first. @type {Map<number, Uint8Array>} */
  #skipped = new Map();

  /**
   * @param {Uint8Array} ck CK_n, 32 bytes (copied)
   * @param {number} n its index: the next message expected
   */
  constructor(ck, n) {
    need(ck, 32, 'chain key');
    if (!Number.isSafeInteger(n) || n < 1) throw new Error('chain index must be a positive integer');
    this.#ck = ck.slice();
    this.#m = n;
  }

  /** The index of the next expected message. */
  get n() { return this.#m; }

  /** How many skipped keys are stored. */
  get skipped() { return this.#skipped.size; }

  /**
   * The message key for seq, without changing the chain: call commit() once
   * the message opened, and not at all if it did not. missing is seq − m
   * when seq is past the next expected index m (show "missing" messages),
   * else 0. Throws an Error whose .code is 'replay' (seq already used, or
   * older than the window), 'jump' (more than MAX_JUMP ahead) or 'erased'.
   * commit() throws 'replay' if another message with this seq was committed
   * in between. The caller should fill(0) mk once it is used.
   * @param {number|bigint} seq
   * @returns {Promise<{mk: Uint8Array, missing: number, commit: () => void}>}
   */
  async keyFor(seq) {
    const s = seqNumber(seq);
    const ck = this.#ck;
    if (!ck) throw codeError('erased', 'chain: erased');
    const m = this.#m;
    if (s < m) {
      const mk = this.#skipped.get(s);
      if (!mk) throw codeError('replay', `chain: message ${s} was already read or is too old`);
      return { mk: mk.slice(), missing: 0, commit: () => this.#useSkipped(s) };
    }
    if (s - m > MAX_JUMP) throw codeError('jump', `chain: message ${s} is ${s - m} ahead, at most ${MAX_JUMP}`);
    /** @type {Uint8Array[]} mk_m .. mk_{s-1} */
    const pending = [];
    /** @type {Uint8Array} */
    let c = ck.slice();
    for (let i = m; i < s; i++) {
      const st = await chainStep(c);
      c.fill(0);
      c = st.next;
      pending.push(st.mk);
    }
    const last = await chainStep(c);
    c.fill(0);
    const next = last.next;
    const commit = () => {
      if (!this.#ck) throw codeError('erased', 'chain: erased');
      if (s < this.#m) { // another message moved the chain past s meanwhile
        pending.forEach((k) => k.fill(0));
        next.fill(0);
        this.#useSkipped(s);
        return;
      }
      pending.forEach((k, j) => {
        if (m + j >= this.#m) this.#skipped.set(m + j, k);
        else k.fill(0);
      });
      for (const [i, k] of this.#skipped) {
        if (this.#skipped.size <= MAX_SKIPPED) break;
        k.fill(0);
        this.#skipped.delete(i);
      }
      this.#ck.fill(0);
      this.#ck = next;
      this.#m = s + 1;
    };
    return { mk: last.mk, missing: s - m, commit };
  }

  /** @param {number} s */
  #useSkipped(s) {
    if (!this.#ck) throw codeError('erased', 'chain: erased');
    const k = this.#skipped.get(s);
    if (!k) throw codeError('replay', `chain: message ${s} was already read`);
    k.fill(0);
    this.#skipped.delete(s);
  }

  /** Forget every key of the chain; keyFor throws 'erased' from now on. */
  erase() {
    if (this.#ck) this.#ck.fill(0);
    this.#ck = null;
    for (const k of this.#skipped.values()) k.fill(0);
    this.#skipped.clear();
  }
}

/**
 * Seal a group (kind 2) or direct (kind 3) message in suite 2 (section 7.1):
 * header || nonce || AES-256-GCM(mk, nonce, pad(data), aad = header) ||
 * Ed25519 signature. For kind 2 "to" is 0 and epoch is the sender's epoch;
 * for kind 3 "to" is the peer and epoch the DM session id.
 * @param {{kind: number, rid: Uint8Array, sender: number, to?: number, epoch: number, seq: number|bigint,
 *          mk: Uint8Array, edPriv: CryptoKey, data: Uint8Array, nonce?: Uint8Array}} o
 * @returns {Promise<Uint8Array>}
 */
export async function sealChainMessage(o) {
  if (o.kind !== KIND.MSG && o.kind !== KIND.DM) throw new Error(`seal: kind ${o.kind} is not a chain message`);
  if (!o.epoch) throw new Error('seal: epoch must not be 0');
  if (seqNumber(o.seq) < 1) throw new Error('seal: seq starts at 1');
  const header = encodeHeader({
    kind: o.kind, suite: SUITE2, rid: o.rid, sender: o.sender, to: o.to ?? 0, epoch: o.epoch, seq: o.seq,
  });
  const padded = pad(o.data);
  try {
    return await sealBody(header, await aesKey(o.mk), padded, o.edPriv, o.nonce);
  } finally {
    padded.fill(0);
  }
}

/**
 * Open a suite-2 group or direct message: judge the header, check the
 * signature first, then decrypt with mk and remove the padding. Throws on
 * any failure. o.rid and o.self add the room and recipient checks.
 * @param {Uint8Array} env
 * @param {{mk: Uint8Array, edPub: Uint8Array|CryptoKey, rid?: Uint8Array, self?: number}} o
 * @returns {Promise<{header: Header, data: Uint8Array}>}
 */
export async function openChainMessage(env, o) {
  const header = suite2Header(env, [KIND.MSG, KIND.DM], o);
  await requireSignature(env, o.edPub);
  return { header, data: await decryptEnvelope(env, await aesKey(o.mk)) };
}

/**
 * Open a suite-2 message with a receiving chain, in the order of section
 * 7.2: header and signature first, then the chain's key for its seq, and
 * the chain moves on only if the message opened. The header's epoch is not
 * judged here: pick the chain for (sender, epoch) before calling.
 * @param {Uint8Array} env
 * @param {RecvChain} chain
 * @param {{edPub: Uint8Array|CryptoKey, rid?: Uint8Array, self?: number}} o
 * @returns {Promise<{header: Header, data: Uint8Array, missing: number}>}
 */
export async function openWithChain(env, chain, o) {
  const header = suite2Header(env, [KIND.MSG, KIND.DM], o);
  await requireSignature(env, o.edPub);
  const { mk, missing, commit } = await chain.keyFor(header.seq);
  try {
    const data = await decryptEnvelope(env, await aesKey(mk));
    commit();
    return { header, data, missing };
  } finally {
    mk.fill(0);
  }
}

// ---------------------------------------------------------------- 7.2 HPKE

/** X25519's base point u = 9: X25519(k, 9) is k's public key. */
const BASE_POINT = Uint8Array.of(9, ...new Uint8Array(31));

/**
 * X25519(priv, pub), rejecting an all-zero result (RFC 7748 section 6.1):
 * WebCrypto itself refuses one with an OperationError.
 * @param {CryptoKey} priv
 * @param {Uint8Array} pub 32 bytes
 * @returns {Promise<Uint8Array>}
 */
async function x25519(priv, pub) {
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
async function x25519Public(priv) {
  return x25519(priv, BASE_POINT);
}

/**
 * Import a 32-byte X25519 private scalar (RFC 7748) as a non-extractable key.
 * @param {Uint8Array} priv
 * @returns {Promise<CryptoKey>}
 */
async function importX25519(priv) {
  need(priv, 32, 'X25519 private key');
  return subtle.importKey('pkcs8', bs(concat(PKCS8_X25519, priv)), { name: 'X25519' }, false, ['deriveBits']);
}

/** HPKE AEADs (RFC 9180 section 7.3): veil uses AES-256-GCM; AES-128-GCM is for the RFC's vectors. */
const HPKE_AEADS = Object.freeze({
  'AES-128-GCM': { id: 0x0001, nk: 16 },
  'AES-256-GCM': { id: 0x0002, nk: 32 },
});
const HPKE_KEM_X25519 = 0x0020;
const HPKE_KDF_SHA256 = 0x0001;
const L_HPKE = enc.encode('HPKE-v1');
const KEM_SUITE = concat(enc.encode('KEM'), Uint8Array.of(0x00, HPKE_KEM_X25519));

/**
 * @param {'AES-256-GCM'|'AES-128-GCM'|undefined} name
 */
function hpkeAead(name) {
  const a = HPKE_AEADS[name ?? 'AES-256-GCM'];
  if (!a) throw new Error(`hpke: unknown AEAD ${name}`);
  return a;
}

/**
 * @param {number} aeadID
 * @returns {Uint8Array} "HPKE" || kem_id || kdf_id || aead_id
 */
function hpkeSuiteID(aeadID) {
  return concat(enc.encode('HPKE'), Uint8Array.of(0, HPKE_KEM_X25519, 0, HPKE_KDF_SHA256, aeadID >> 8, aeadID & 255));
}

/**
 * LabeledExtract (RFC 9180 section 4).
 * @param {Uint8Array} suiteID
 * @param {Uint8Array} salt
 * @param {string} label
 * @param {Uint8Array} ikm
 */
function labeledExtract(suiteID, salt, label, ikm) {
  return hkdfExtract(salt, concat(L_HPKE, suiteID, enc.encode(label), ikm));
}

/**
 * LabeledExpand (RFC 9180 section 4).
 * @param {Uint8Array} suiteID
 * @param {Uint8Array} prk
 * @param {string} label
 * @param {Uint8Array} info
 * @param {number} len
 */
function labeledExpand(suiteID, prk, label, info, len) {
  return hkdfExpand(prk, concat(Uint8Array.of(len >> 8, len & 255), L_HPKE, suiteID, enc.encode(label), info), len);
}

/**
 * DHKEM's ExtractAndExpand (RFC 9180 section 4.1).
 * @param {Uint8Array} dh
 * @param {Uint8Array} kemContext enc || pkR
 * @returns {Promise<Uint8Array>} the KEM shared secret, 32 bytes
 */
async function extractAndExpand(dh, kemContext) {
  const prk = await labeledExtract(KEM_SUITE, new Uint8Array(0), 'eae_prk', dh);
  const ss = await labeledExpand(KEM_SUITE, prk, 'shared_secret', kemContext, 32);
  prk.fill(0);
  return ss;
}

/**
 * The base-mode key schedule (RFC 9180 section 5.1), exposed for the RFC's
 * intermediate values in tests.
 * @param {Uint8Array} sharedSecret
 * @param {Uint8Array} info
 * @param {'AES-256-GCM'|'AES-128-GCM'} [aead]
 * @returns {Promise<{key: Uint8Array, baseNonce: Uint8Array, exporterSecret: Uint8Array}>}
 */
export async function hpkeKeySchedule(sharedSecret, info, aead) {
  const a = hpkeAead(aead);
  const suite = hpkeSuiteID(a.id);
  const empty = new Uint8Array(0);
  const pskIDHash = await labeledExtract(suite, empty, 'psk_id_hash', empty);
  const infoHash = await labeledExtract(suite, empty, 'info_hash', info);
  const context = concat(Uint8Array.of(0), pskIDHash, infoHash); // mode_base
  const secret = await labeledExtract(suite, sharedSecret, 'secret', empty);
  const [key, baseNonce, exporterSecret] = await Promise.all([
    labeledExpand(suite, secret, 'key', context, a.nk),
    labeledExpand(suite, secret, 'base_nonce', context, NONCE_LEN),
    labeledExpand(suite, secret, 'exp', context, 32),
  ]);
  secret.fill(0);
  return { key, baseNonce, exporterSecret };
}

/**
 * DeriveKeyPair for DHKEM(X25519, HKDF-SHA256) (RFC 9180 section 7.1.3),
 * for the RFC's vectors: the private scalar and public key from ikm.
 * @param {Uint8Array} ikm
 * @returns {Promise<{priv: Uint8Array, pub: Uint8Array}>}
 */
export async function hpkeDeriveKeyPair(ikm) {
  const prk = await labeledExtract(KEM_SUITE, new Uint8Array(0), 'dkp_prk', ikm);
  const priv = await labeledExpand(KEM_SUITE, prk, 'sk', new Uint8Array(0), 32);
  prk.fill(0);
  return { priv, pub: await x25519Public(await importX25519(priv)) };
}

/**
 * @param {Uint8Array} key
 * @param {'encrypt'|'decrypt'} use
 */
function hpkeAesKey(key, use) {
  return subtle.importKey('raw', bs(key), { name: 'AES-GCM' }, false, [use]);
}

/**
 * HPKE base mode, single shot (RFC 9180 sections 5 and 6.1) with
 * DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and AES-256-GCM (or AES-128-GCM):
 * encrypts pt to pkR as the context's first message (sequence 0).
 * o.ephemeralPriv fixes skE, for test vectors only.
 * @param {Uint8Array} pkR the recipient's X25519 public key
 * @param {Uint8Array} info
 * @param {Uint8Array} aad
 * @param {Uint8Array} pt
 * @param {{aead?: 'AES-256-GCM'|'AES-128-GCM', ephemeralPriv?: Uint8Array}} [o]
 * @returns {Promise<{enc: Uint8Array, ct: Uint8Array}>}
 */
export async function hpkeSeal(pkR, info, aad, pt, o = {}) {
  need(pkR, 32, 'hpke: recipient key');
  const eph = o.ephemeralPriv ? await ephemeralFromBytes(o.ephemeralPriv) : await newEphemeral();
  const dh = await x25519(eph.priv, pkR);
  const ss = await extractAndExpand(dh, concat(eph.pub, pkR));
  dh.fill(0);
  const { key, baseNonce, exporterSecret } = await hpkeKeySchedule(ss, info, o.aead);
  ss.fill(0);
  exporterSecret.fill(0);
  const k = await hpkeAesKey(key, 'encrypt');
  key.fill(0);
  const ct = new Uint8Array(await subtle.encrypt(
    { name: 'AES-GCM', iv: bs(baseNonce), additionalData: bs(aad), tagLength: 128 }, k, bs(pt)));
  return { enc: eph.pub, ct };
}

/**
 * Open what hpkeSeal sealed: decapsulate enc with skR and decrypt ct as the
 * first message. Throws if the KEM output is all-zero or ct does not
 * authenticate.
 * @param {CryptoKey|Uint8Array} skR X25519 private key (a key or 32 raw bytes)
 * @param {Uint8Array} enc 32 bytes
 * @param {Uint8Array} info
 * @param {Uint8Array} aad
 * @param {Uint8Array} ct
 * @param {{aead?: 'AES-256-GCM'|'AES-128-GCM', pkR?: Uint8Array}} [o] pkR saves a scalar multiplication
 * @returns {Promise<Uint8Array>}
 */
export async function hpkeOpen(skR, enc, info, aad, ct, o = {}) {
  need(enc, 32, 'hpke: enc');
  const sk = skR instanceof Uint8Array ? await importX25519(skR) : skR;
  const pkR = o.pkR ?? await x25519Public(sk);
  const dh = await x25519(sk, enc);
  const ss = await extractAndExpand(dh, concat(enc, pkR));
  dh.fill(0);
  const { key, baseNonce, exporterSecret } = await hpkeKeySchedule(ss, info, o.aead);
  ss.fill(0);
  exporterSecret.fill(0);
  const k = await hpkeAesKey(key, 'decrypt');
  key.fill(0);
  try {
    return new Uint8Array(await subtle.decrypt(
      { name: 'AES-GCM', iv: bs(baseNonce), additionalData: bs(aad), tagLength: 128 }, k, bs(ct)));
  } catch (e) {
    throw new Error('hpke: ciphertext does not authenticate', { cause: e });
  }
}

/**
 * The HPKE info of a sender-key distribution (section 7.2):
 * "veil/sk" || rid || u32(sender) || u32(epoch) || u32(to).
 * @param {Uint8Array} rid 16 bytes
 * @param {number} sender
 * @param {number} epoch
 * @param {number} to
 * @returns {Uint8Array}
 */
export function senderKeyInfo(rid, sender, epoch, to) {
  need(rid, RID_LEN, 'rid');
  return concat(L_SK, rid, u32be(sender), u32be(epoch), u32be(to));
}

/** enc(32) || HPKE ciphertext of CK(32) || u64(n), with its tag. */
const SK_BODY_LEN = 32 + 40 + TAG_LEN;

/**
 * Seal a sender key (kind 4, suite 2, section 7.2): chain key ck with index
 * n, to the member whose announced X25519 key is peerXPub, bound by the HPKE
 * info to (rid, sender, epoch, to) and by the AAD to the header; seq is the
 * sender's control counter (section 7.4). ephemeralPriv fixes HPKE's skE
 * (tests only).
 * @param {{rid: Uint8Array, sender: number, to: number, epoch: number, seq: number|bigint,
 *          peerXPub: Uint8Array, edPriv: CryptoKey, ck: Uint8Array, n: number,
 *          ephemeralPriv?: Uint8Array}} o
 * @returns {Promise<Uint8Array>}
 */
export async function sealSenderKey(o) {
  need(o.ck, 32, 'chain key');
  if (!o.epoch) throw new Error('sender key: epoch must not be 0');
  if (!Number.isSafeInteger(o.n) || o.n < 1) throw new Error('sender key: n must be a positive integer');
  const header = encodeHeader({
    kind: KIND.SK, suite: SUITE2, rid: o.rid, sender: o.sender, to: o.to, epoch: o.epoch, seq: o.seq,
  });
  const pt = concat(o.ck, u64be(o.n));
  try {
    const { enc: e, ct } = await hpkeSeal(o.peerXPub, senderKeyInfo(o.rid, o.sender, o.epoch, o.to), header, pt,
      { ephemeralPriv: o.ephemeralPriv });
    return await signed(concat(header, e, ct), o.edPriv);
  } finally {
    pt.fill(0);
  }
}

/**
 * Open a sender key: judge the header (kind 4, suite 2), check the
 * signature under the sender's edPub first, then HPKE-open with own xPriv.
 * Returns the chain key and its index n. Whether its epoch is newer than
 * the sender's current one is the caller's to judge (section 7.2).
 * @param {Uint8Array} env
 * @param {{xPriv: CryptoKey, edPub: Uint8Array|CryptoKey, xPub?: Uint8Array, rid?: Uint8Array, self?: number}} o
 *   xPub (own X25519 public key) saves a scalar multiplication
 * @returns {Promise<{header: Header, ck: Uint8Array, n: number}>}
 */
export async function openSenderKey(env, o) {
  const header = suite2Header(env, [KIND.SK], o);
  if (env.length !== HEADER_LEN + SK_BODY_LEN + SIG_LEN) throw new Error(`sender key: ${env.length} bytes`);
  await requireSignature(env, o.edPub);
  const e = env.subarray(HEADER_LEN, HEADER_LEN + 32);
  const ct = env.subarray(HEADER_LEN + 32, env.length - SIG_LEN);
  const pt = await hpkeOpen(o.xPriv, e, senderKeyInfo(header.rid, header.sender, header.epoch, header.to),
    env.subarray(0, HEADER_LEN), ct, { pkR: o.xPub });
  const n = new DataView(pt.buffer, pt.byteOffset + 32, 8).getBigUint64(0);
  const ck = pt.slice(0, 32);
  pt.fill(0);
  if (n < 1n || n > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`sender key: index ${n}`);
  return { header, ck, n: Number(n) };
}

// ---------------------------------------------------------------- 7.3 DM sessions

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

/**
 * Seal a DM handshake message (kind 5, suite 2, section 7.3): "to" = the
 * peer, epoch = the session id, seq = own control counter, the body's JSON
 * ({"t": "offer"|"accept", "e": ...}) padded and sealed under kRos.
 * @param {{rid: Uint8Array, sender: number, to: number, sid: number, seq: number|bigint, roster: CryptoKey,
 *          edPriv: CryptoKey, body: object, nonce?: Uint8Array}} o
 * @returns {Promise<Uint8Array>}
 */
export async function sealHandshake(o) {
  if (!o.sid) throw new Error('handshake: sid must not be 0');
  const header = encodeHeader({
    kind: KIND.DMH, suite: SUITE2, rid: o.rid, sender: o.sender, to: o.to, epoch: o.sid, seq: o.seq,
  });
  return sealBody(header, o.roster, pad(enc.encode(JSON.stringify(o.body))), o.edPriv, o.nonce);
}

/**
 * Open a DM handshake message: judge the header (kind 5, suite 2), check
 * the signature first, decrypt under kRos, and check the body: "t" is
 * "offer" or "accept", "e" a 32-byte key, "kem" (offers) and "kemct"
 * (accepts) of ML-KEM-768's sizes when present. With o.kem given, kem/kemct
 * must be present exactly when it is true (section 7.3: both hellos carry
 * "mlkem768"; the browser never does, so it passes false).
 * @param {Uint8Array} env
 * @param {{roster: CryptoKey, edPub: Uint8Array|CryptoKey, rid?: Uint8Array, self?: number, kem?: boolean}} o
 * @returns {Promise<{header: Header, body: any}>}
 */
export async function openHandshake(env, o) {
  const header = suite2Header(env, [KIND.DMH], o);
  await requireSignature(env, o.edPub);
  const data = await decryptEnvelope(env, o.roster);
  let body;
  try {
    body = JSON.parse(dec.decode(data));
  } catch (e) {
    throw new Error('handshake: not UTF-8 JSON', { cause: e });
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Error('handshake: not a JSON object');
  if (body.t !== 'offer' && body.t !== 'accept') throw new Error('handshake: "t" must be "offer" or "accept"');
  if (fromB64url(body.e).length !== 32) throw new Error('handshake: "e" must be 32 bytes');
  const own = body.t === 'offer' ? 'kem' : 'kemct';
  const other = body.t === 'offer' ? 'kemct' : 'kem';
  if (body[other] !== undefined) throw new Error(`handshake: an ${body.t} with "${other}"`);
  if (body[own] !== undefined) {
    const want = body.t === 'offer' ? MLKEM_EK_LEN : MLKEM_CT_LEN;
    if (fromB64url(body[own]).length !== want) throw new Error(`handshake: "${own}" must be ${want} bytes`);
  }
  if (o.kem !== undefined && (body[own] !== undefined) !== o.kem) {
    throw new Error(`handshake: "${own}" ${o.kem ? 'missing' : 'present'}, but the members' capabilities say otherwise`);
  }
  return { header, body };
}

/**
 * The safety-code digits (section 7.3): the first 8 bytes of
 * SHA-256(label || data) as a big-endian integer mod 10^12, as
 * "0123 4567 8901".
 * @param {Uint8Array} label
 * @param {Uint8Array} data
 * @returns {Promise<string>}
 */
async function safetyDigits(label, data) {
  const h = await sha256(concat(label, data));
  const v = new DataView(h.buffer, h.byteOffset, 8).getBigUint64(0) % 1000000000000n;
  const s = v.toString().padStart(12, '0');
  return `${s.slice(0, 4)} ${s.slice(4, 8)} ${s.slice(8, 12)}`;
}

/**
 * A DM session's keys (section 7.3), from this side: role 'a' (the
 * initiator, a's session id is a) or 'b'. edA, xA, edB, xB are the two
 * members' announced keys, eA, eB the handshake's ephemeral public keys;
 * kem, kemct and ss are the ML-KEM-768 parts (all three or none; the
 * browser never has them). Rejects an all-zero X25519 output (a low-order
 * key). Returns the first chain key of each direction, the transcript hash
 * th and the safety code.
 * @param {{role: 'a'|'b', rid: Uint8Array, a: number, b: number, sid: number,
 *          edA: Uint8Array, xA: Uint8Array, edB: Uint8Array, xB: Uint8Array, eA: Uint8Array, eB: Uint8Array,
 *          kem?: Uint8Array, kemct?: Uint8Array, ss?: Uint8Array, myEphPriv: CryptoKey, myXPriv: CryptoKey}} o
 * @returns {Promise<{sendCK: Uint8Array, recvCK: Uint8Array, safety: string, th: Uint8Array}>}
 */
export async function dmDerive(o) {
  if (o.role !== 'a' && o.role !== 'b') throw new Error('dm: role must be "a" or "b"');
  need(o.rid, RID_LEN, 'rid');
  for (const [k, v] of Object.entries({ edA: o.edA, xA: o.xA, edB: o.edB, xB: o.xB, eA: o.eA, eB: o.eB })) {
    need(v, 32, `dm: ${k}`);
  }
  if (!o.sid) throw new Error('dm: sid must not be 0');
  const empty = new Uint8Array(0);
  const kem = o.kem ?? empty;
  const kemct = o.kemct ?? empty;
  const ss = o.ss ?? empty;
  if (!((kem.length > 0) === (kemct.length > 0) && (kem.length > 0) === (ss.length > 0))) {
    throw new Error('dm: kem, kemct and ss come together');
  }
  let dhs;
  try {
    dhs = o.role === 'a'
      ? await Promise.all([x25519(o.myEphPriv, o.xB), x25519(o.myXPriv, o.eB), x25519(o.myEphPriv, o.eB)])
      : await Promise.all([x25519(o.myXPriv, o.eA), x25519(o.myEphPriv, o.xA), x25519(o.myEphPriv, o.eA)]);
  } catch (e) {
    throw new Error('dm: X25519 failed (all-zero shared secret)', { cause: e });
  }
  const th = await sha256(concat(L_DM, o.rid, u32be(o.a), u32be(o.b), u32be(o.sid),
    o.edA, o.xA, o.edB, o.xB, o.eA, o.eB, kem, kemct));
  const ikm = concat(...dhs, ss);
  dhs.forEach((d) => d.fill(0));
  const root = await hkdf(ikm, th, L_DM_ROOT, 32);
  ikm.fill(0);
  const [a2b, b2a] = await Promise.all([hkdfExpand(root, L_DM_A2B, 32), hkdfExpand(root, L_DM_B2A, 32)]);
  root.fill(0);
  const safety = await safetyDigits(L_DM_SAFETY, th);
  return o.role === 'a' ? { sendCK: a2b, recvCK: b2a, safety, th } : { sendCK: b2a, recvCK: a2b, safety, th };
}

/**
 * The member safety code of two members (section 7.3), the same on both
 * screens: SHA-256("veil/member-safety" || lo || hi) as 12 digits, where lo
 * and hi are the members' ed || x ordered bytewise.
 * @param {Uint8Array} edA
 * @param {Uint8Array} xA
 * @param {Uint8Array} edB
 * @param {Uint8Array} xB
 * @returns {Promise<string>}
 */
export async function memberSafety(edA, xA, edB, xB) {
  const a = concat(edA, xA);
  const b = concat(edB, xB);
  return safetyDigits(L_MEMBER_SAFETY, compareBytes(a, b) <= 0 ? concat(a, b) : concat(b, a));
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
