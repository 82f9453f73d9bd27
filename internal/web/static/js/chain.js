// @ts-check
// chain.js: suite-2 message chains (docs/protocol.md sections 7.1, 7.2 and
// 7.5): the chain step, sending and receiving chains with a bounded window
// of skipped keys, and sealing and opening group and direct messages with a
// chain's message keys. Chain keys never come from the link, so recorded
// traffic stays sealed once they are erased. Pure: no DOM, no network, no
// storage.

import { KIND, SUITE2, encodeHeader } from './protocol.js';
import { bs, need } from './bytes.js';
import { subtle, aesKey } from './primitives.js';
import { pad, sealBody, decryptEnvelope, suite2Header, requireSignature } from './envelope.js';

/** @typedef {import('./protocol.js').Header} Header */

/** Limits of section 7.5. */
export const MAX_JUMP = 2000, MAX_SKIPPED = 2000;

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
 * judged here: pick the chain for (sender, epoch) before calling. With
 * o.keepKey the result carries a copy of the message key (for a report to
 * the owner, section 9.3), which the caller erases.
 * @param {Uint8Array} env
 * @param {RecvChain} chain
 * @param {{edPub: Uint8Array|CryptoKey, rid?: Uint8Array, self?: number, keepKey?: boolean}} o
 * @returns {Promise<{header: Header, data: Uint8Array, missing: number, mk?: Uint8Array}>}
 */
export async function openWithChain(env, chain, o) {
  const header = suite2Header(env, [KIND.MSG, KIND.DM], o);
  await requireSignature(env, o.edPub);
  const { mk, missing, commit } = await chain.keyFor(header.seq);
  try {
    const data = await decryptEnvelope(env, await aesKey(mk));
    commit();
    return o.keepKey ? { header, data, missing, mk: mk.slice() } : { header, data, missing };
  } finally {
    mk.fill(0);
  }
}
