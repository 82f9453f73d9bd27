// @ts-check
// handshake.js: suite-2 DM sessions (docs/protocol.md section 7.3): the
// kind-5 handshake messages, the session's key derivation (dmDerive) and
// the DM and member safety codes. Pure: no DOM, no network, no storage.

import { KIND, RID_LEN, SUITE2, encodeHeader } from './protocol.js';
import { enc, dec, concat, compareBytes, fromB64url, need, u32be } from './bytes.js';
import { sha256, hkdf, hkdfExpand, x25519 } from './primitives.js';
import { pad, sealBody, decryptEnvelope, suite2Header, requireSignature } from './envelope.js';

/** @typedef {import('./protocol.js').Header} Header */

/** The hello capability for the hybrid (ML-KEM-768) DM handshake; the browser never announces it. */
export const CAP_MLKEM = 'mlkem768';

/** Sizes of ML-KEM-768's encapsulation key and ciphertext (FIPS 203). */
const MLKEM_EK_LEN = 1184;
const MLKEM_CT_LEN = 1088;

const L_DM = enc.encode('veil/dm');
const L_DM_ROOT = enc.encode('veil/dm/root');
const L_DM_A2B = enc.encode('veil/dm/a2b');
const L_DM_B2A = enc.encode('veil/dm/b2a');
const L_DM_SAFETY = enc.encode('veil/dm-safety');
const L_MEMBER_SAFETY = enc.encode('veil/member-safety');

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
