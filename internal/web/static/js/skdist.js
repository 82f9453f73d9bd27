// @ts-check
// skdist.js: suite-2 sender-key distribution (docs/protocol.md section
// 7.2): a member's chain key and index sealed with HPKE to one other member
// (kind 4), and the epoch limits. Pure: no DOM, no network, no storage.

import { KIND, HEADER_LEN, SIG_LEN, TAG_LEN, RID_LEN, SUITE2, encodeHeader } from './protocol.js';
import { enc, concat, need, u32be, u64be } from './bytes.js';
import { signed, suite2Header, requireSignature } from './envelope.js';
import { hpkeSeal, hpkeOpen } from './hpke.js';

/** @typedef {import('./protocol.js').Header} Header */

/** The epoch length of section 7.2: 100 messages or 10 minutes. */
export const EPOCH_MESSAGES = 100, EPOCH_MS = 600000;

const L_SK = enc.encode('veil/sk');

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
