// @ts-check
// e2ee.js: veil's end-to-end scheme for the browser (docs/protocol.md
// sections 1, 2, 3 (meta), 5). Key schedule, links, envelopes, padding, the
// direct-message key, hellos, alias normalisation and fingerprints, over
// WebCrypto only (globalThis.crypto.subtle). Pure: no DOM, no network, no
// storage. Every opener throws on anything it cannot authenticate.

import {
  KIND, HEADER_LEN, NONCE_LEN, SIG_LEN, MIN_ENVELOPE, RID_LEN, VERSION, SUITE, MAX_HELLO, MAX_META,
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
 * @property {number} kind          KIND.HELLO, KIND.MSG or KIND.DM
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
  const nonce = o.nonce ?? randomBytes(NONCE_LEN);
  if (nonce.length !== NONCE_LEN) throw new Error('seal: nonce must be 12 bytes');
  const padded = pad(o.data);
  const ct = new Uint8Array(await subtle.encrypt(
    { name: 'AES-GCM', iv: bs(nonce), additionalData: bs(header), tagLength: 128 }, o.key, bs(padded)));
  padded.fill(0);
  const body = concat(header, nonce, ct);
  const sig = new Uint8Array(await subtle.sign({ name: 'Ed25519' }, o.edPriv, bs(body)));
  return concat(body, sig);
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
 * Seal this session's hello (kind 1 under kRos): JSON {"alias", "x", "e"}.
 * The alias is normalised here; an empty one becomes a random alias.
 * @param {{rid: Uint8Array, sender: number, seq: number|bigint, roster: CryptoKey,
 *          identity: Identity, alias: string, nonce?: Uint8Array}} o
 * @returns {Promise<Uint8Array>}
 */
export async function sealHello(o) {
  const alias = normalizeAlias(o.alias) || randomAlias();
  const data = enc.encode(JSON.stringify({ alias, x: b64url(o.identity.xPub), e: b64url(o.identity.edPub) }));
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
 * @param {Uint8Array} env
 * @param {CryptoKey} roster
 * @param {{sender?: number, rid?: Uint8Array}} [expect]
 * @returns {Promise<{header: Header, alias: string, rawAlias: string, edPub: Uint8Array, xPub: Uint8Array}>}
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
  const xPub = fromB64url(obj.x);
  const edPub = fromB64url(obj.e);
  if (xPub.length !== 32 || edPub.length !== 32) throw new Error('hello: keys must be 32 bytes');
  if (!(await verifyEnvelope(env, edPub))) throw new Error('hello: bad signature');
  return { header, alias: normalizeAlias(obj.alias), rawAlias: obj.alias, edPub, xPub };
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
