// @ts-check
// e2ee.js: veil's end-to-end scheme for the browser (docs/protocol.md
// sections 1, 2, 3 (meta), 5 and 7), and the one module the rest of the
// client imports it from. Here: the room's key schedule, links, session
// identities and fingerprints, the suite-1 DM key, the room's meta and
// hellos. The rest lives in smaller modules and is re-exported below:
// bytes.js (hex, base64url, byte strings), primitives.js (WebCrypto:
// random, SHA-256, HKDF, AES, X25519), envelope.js (padding, envelopes),
// alias.js (aliases), and for suite 2 chain.js (message chains), hpke.js
// (RFC 9180), skdist.js (sender-key distribution), handshake.js (the
// DM handshake and safety codes) and report.js (reports to the owner).
// WebCrypto only (globalThis.crypto.subtle).
// Pure: no DOM, no network, no storage. Every opener throws on anything it
// cannot authenticate.

import { KIND, NONCE_LEN, RID_LEN, SUITE2, MAX_HELLO, MAX_META, parseHeader } from './protocol.js';
import { enc, dec, bs, concat, equalBytes, toHex, u32be, b64url, fromB64url } from './bytes.js';
import { subtle, PKCS8_ED25519, PKCS8_X25519, randomBytes, sha256, hkdf, importAes, exportRaw } from './primitives.js';
import { sealEnvelope, verifyEnvelope, decryptEnvelope, checkHeader } from './envelope.js';
import { normalizeAlias, randomAlias } from './alias.js';

export { enc, dec, hex, toHex, concat, equalBytes, compareBytes, b64url, fromB64url } from './bytes.js';
export {
  randomBytes, sha256, hkdf, hkdfExtract, hkdfExpand, importAes, exportRaw, newEphemeral, ephemeralFromBytes,
} from './primitives.js';
export { BUCKETS, MAX_DATA, pad, unpad, sealEnvelope, verifyEnvelope, openEnvelope } from './envelope.js';
export { MAX_ALIAS, normalizeAlias, randomAlias, WORDS } from './alias.js';
export {
  MAX_JUMP, MAX_SKIPPED, chainStep, SendChain, RecvChain, sealChainMessage, openChainMessage, openWithChain,
} from './chain.js';
export { hpkeKeySchedule, hpkeDeriveKeyPair, hpkeSeal, hpkeOpen } from './hpke.js';
export { EPOCH_MESSAGES, EPOCH_MS, senderKeyInfo, sealSenderKey, openSenderKey } from './skdist.js';
export { CAP_MLKEM, sealHandshake, openHandshake, dmDerive, memberSafety } from './handshake.js';
export {
  MAX_NOTE, MAX_REPORTED, reportKeyPair, reportInfo, fitsReport, sealReport, reportHeader, openReport, checkReported,
} from './report.js';
export { SUITE2 };

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
