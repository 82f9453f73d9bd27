// @ts-check
// report.js: reports to the room's owner (docs/protocol.md section 9.3).
// The room's report key pair comes from the owner key; a member seals the
// envelope it was sent, with the message key it opened it with, to the
// report public key (HPKE, the suite of section 7.2) in a kind-7 envelope;
// the owner opens it and checks that the reported envelope is really its
// sender's. Pure: no DOM, no network, no storage.

import { KIND, KIND_REPORT, HEADER_LEN, SIG_LEN, TAG_LEN, RID_LEN, MIN_ENVELOPE, MAX_FRAME, VERSION, SUITE2,
  encodeHeader, parseHeader } from './protocol.js';
import { enc, concat, equalBytes, need, u32be } from './bytes.js';
import { hkdf, importX25519, x25519Public } from './primitives.js';
import { signed, requireSignature } from './envelope.js';
import { hpkeSeal, hpkeOpen } from './hpke.js';
import { openChainMessage } from './chain.js';

/** @typedef {import('./protocol.js').Header} Header */

/** The longest note a report may carry, in UTF-8 bytes. */
export const MAX_NOTE = 500;

const L_REPORT_KEY = enc.encode('veil/report-key');
const L_REPORT = enc.encode('veil/report');
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Bytes a report adds around the reported envelope E and the note: the
 * header, HPKE's enc, mk, u32(len(E)), the GCM tag and the signature.
 */
const REPORT_OVERHEAD = HEADER_LEN + 32 + 32 + 4 + TAG_LEN + SIG_LEN;

/** The longest envelope that can be reported with a note of MAX_NOTE bytes in one frame. */
export const MAX_REPORTED = MAX_FRAME - 1 - REPORT_OVERHEAD - MAX_NOTE;

/**
 * The room's report key pair (section 9.3): the private key is
 * HKDF-SHA256(ikm = owner, salt = kRos, info = "veil/report-key" || rid, 32),
 * an X25519 private key; the public key is X25519(private, 9). The relay
 * sees the owner key but never kRos; members know kRos but not the owner
 * key: only the owner derives it.
 * @param {Uint8Array} owner the owner key, 32 bytes
 * @param {Uint8Array|CryptoKey} roster the room's roster key kRos: 32 bytes, or the room's AES key
 * @param {Uint8Array} rid 16 bytes
 * @returns {Promise<{priv: Uint8Array, pub: Uint8Array}>} the caller erases priv
 */
export async function reportKeyPair(owner, roster, rid) {
  need(owner, 32, 'owner key');
  const raw = roster instanceof Uint8Array ? roster : new Uint8Array(await crypto.subtle.exportKey('raw', roster));
  need(raw, 32, 'roster key');
  need(rid, RID_LEN, 'rid');
  const priv = await hkdf(owner, raw, concat(L_REPORT_KEY, rid), 32);
  if (raw !== roster) raw.fill(0);
  const pub = await x25519Public(await importX25519(priv));
  return { priv, pub };
}

/**
 * The HPKE info of a report: "veil/report" || rid || u32(sender).
 * @param {Uint8Array} rid
 * @param {number} sender the reporter's session
 * @returns {Uint8Array}
 */
export function reportInfo(rid, sender) {
  need(rid, RID_LEN, 'rid');
  return concat(L_REPORT, rid, u32be(sender));
}

/**
 * Whether an envelope of this many bytes fits a report with a note of
 * noteBytes (a message in the 65,536-byte bucket does not).
 * @param {number} envelopeLen
 * @param {number} [noteBytes]
 */
export function fitsReport(envelopeLen, noteBytes = MAX_NOTE) {
  return REPORT_OVERHEAD + envelopeLen + noteBytes <= MAX_FRAME - 1;
}

/**
 * Seal a report (kind 7, suite 2, to 0, epoch 0, seq = our control
 * counter): enc || HPKE(report public key, info = reportInfo(rid, sender),
 * aad = header, mk || u32(len(E)) || E || note), signed by us.
 * ephemeralPriv fixes HPKE's skE (tests only).
 * @param {{rid: Uint8Array, sender: number, seq: number|bigint, reportPub: Uint8Array, edPriv: CryptoKey,
 *          mk: Uint8Array, envelope: Uint8Array, note?: string, ephemeralPriv?: Uint8Array}} o
 * @returns {Promise<Uint8Array>}
 */
export async function sealReport(o) {
  need(o.mk, 32, 'message key');
  need(o.reportPub, 32, 'report key');
  if (!(o.envelope instanceof Uint8Array) || o.envelope.length < MIN_ENVELOPE) throw new Error('report: not an envelope');
  const note = enc.encode(o.note ?? '');
  if (note.length > MAX_NOTE) throw new Error(`report: the note is ${note.length} bytes, at most ${MAX_NOTE}`);
  if (!fitsReport(o.envelope.length, note.length)) throw new Error('report: this message is too large to report');
  const header = encodeHeader({ kind: KIND_REPORT, suite: SUITE2, rid: o.rid, sender: o.sender, to: 0, epoch: 0, seq: o.seq });
  const pt = concat(o.mk, u32be(o.envelope.length), o.envelope, note);
  try {
    const { enc: e, ct } = await hpkeSeal(o.reportPub, reportInfo(o.rid, o.sender), header, pt,
      { ephemeralPriv: o.ephemeralPriv });
    return await signed(concat(header, e, ct), o.edPriv);
  } finally {
    pt.fill(0);
  }
}

/**
 * Judge a report's header: version 1, suite 2, kind 7, flags 0, a non-zero
 * sender, to 0, epoch 0, seq at least 1, and this room.
 * @param {Uint8Array} env
 * @param {Uint8Array} [rid]
 * @returns {Header}
 */
export function reportHeader(env, rid) {
  const h = parseHeader(env);
  if (h.version !== VERSION) throw new Error(`report: unknown version ${h.version}`);
  if (h.suite !== SUITE2) throw new Error(`report: suite ${h.suite}, want ${SUITE2}`);
  if (h.kind !== KIND_REPORT) throw new Error(`report: kind ${h.kind}`);
  if (h.flags !== 0) throw new Error(`report: flags ${h.flags}`);
  if (h.sender === 0) throw new Error('report: sender 0');
  if (h.to !== 0) throw new Error(`report: to ${h.to}`);
  if (h.epoch !== 0) throw new Error(`report: epoch ${h.epoch}`);
  if (h.seq === 0n) throw new Error('report: seq 0');
  if (rid && !equalBytes(h.rid, rid)) throw new Error('report: another room');
  return h;
}

/**
 * Open a report: judge its header, check its signature under the
 * reporter's Ed25519 key, HPKE-open it with the report private key, and
 * split the plaintext. Whether the reported envelope is genuine is
 * checkReported's to judge.
 * @param {Uint8Array} env
 * @param {{reportPriv: CryptoKey|Uint8Array, reportPub?: Uint8Array, reporterEdPub: Uint8Array|CryptoKey,
 *          rid?: Uint8Array}} o
 * @returns {Promise<{header: Header, mk: Uint8Array, reported: Uint8Array, note: string}>} the caller erases mk
 */
export async function openReport(env, o) {
  const header = reportHeader(env, o.rid);
  if (env.length < HEADER_LEN + 32 + TAG_LEN + SIG_LEN) throw new Error('report: too short');
  await requireSignature(env, o.reporterEdPub);
  const e = env.subarray(HEADER_LEN, HEADER_LEN + 32);
  const ct = env.subarray(HEADER_LEN + 32, env.length - SIG_LEN);
  const pt = await hpkeOpen(o.reportPriv, e, reportInfo(header.rid, header.sender), env.subarray(0, HEADER_LEN), ct,
    { pkR: o.reportPub });
  try {
    if (pt.length < 36) throw new Error('report: plaintext too short');
    const n = new DataView(pt.buffer, pt.byteOffset + 32, 4).getUint32(0);
    if (n < MIN_ENVELOPE || n > pt.length - 36) throw new Error('report: the reported envelope does not fit');
    const noteBytes = pt.subarray(36 + n);
    if (noteBytes.length > MAX_NOTE) throw new Error('report: note too long');
    let note;
    try {
      note = utf8.decode(noteBytes);
    } catch {
      throw new Error('report: note is not UTF-8');
    }
    return { header, mk: pt.slice(0, 32), reported: pt.slice(36, 36 + n), note };
  } finally {
    pt.fill(0);
  }
}

/**
 * Check a reported envelope E as section 9.3 asks: a suite-2 group message
 * (kind 2) or a direct message (kind 3) addressed to the reporter, of this
 * room, signed by its sender (senderEdPub: the key the checker saw that
 * sender announce), and opening under mk with its header as associated
 * data. Returns E's header and message data.
 * @param {Uint8Array} reported E
 * @param {{mk: Uint8Array, senderEdPub: Uint8Array|CryptoKey, rid: Uint8Array, reporter: number}} o
 * @returns {Promise<{header: Header, data: Uint8Array}>}
 */
export async function checkReported(reported, o) {
  const h = parseHeader(reported);
  if (h.kind !== KIND.MSG && h.kind !== KIND.DM) throw new Error(`report: the reported envelope is of kind ${h.kind}`);
  if (h.kind === KIND.DM && h.to !== o.reporter) throw new Error('report: a direct message to someone else');
  return openChainMessage(reported, { mk: o.mk, edPub: o.senderEdPub, rid: o.rid, self: o.reporter });
}
