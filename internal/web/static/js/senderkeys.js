// @ts-check
// senderkeys.js: this tab's sender keys of suite 2 (docs/protocol.md
// section 7.2): our epochs and sending chain, handing its chain key to each
// member (kind 4), sealing our group messages, and the receiving chain of
// each member's current epoch. room.js owns one SenderKeys and hands it
// kind-4 envelopes; what it needs of the room is SenderKeyHost. No DOM, no
// storage.

import { KIND, encodeEnvelopeFrame } from './protocol.js';
import * as e2ee from './e2ee.js';

/**
 * Our receiving state for one sender's group messages: the epoch whose key
 * arrived last and its chain.
 * @typedef {{epoch: number, chain: e2ee.RecvChain}} RecvState
 */

/**
 * The parts of a member (room.js's Member) sender keys use.
 * @typedef {{session: number, edPub: Uint8Array, xPub: Uint8Array}} SKPeer
 */

/**
 * What SenderKeys uses of its room (room.js's Room).
 * @typedef {object} SenderKeyHost
 * @property {import('./e2ee.js').Room|null} keys
 * @property {import('./e2ee.js').Identity|null} identity
 * @property {number} session                  our session id
 * @property {import('./socket.js').Conn|null} conn
 * @property {number} rejected                 count of envelopes refused
 * @property {Map<number, bigint>} lastCtl     highest control seq accepted per sender
 * @property {(session: number, seq: bigint) => boolean} ctlFresh
 * @property {() => bigint} nextCtl
 * @property {<T>(fn: () => Promise<T>) => Promise<T>} serial
 * @property {() => SKPeer[]} others           every member but us
 */

/**
 * Our sending chain and epochs, and the members' receiving chains.
 */
export class SenderKeys {
  /**
   * @param {SenderKeyHost} room
   */
  constructor(room) {
    this.room = room;
    /** our current epoch (0: none yet) */
    this.epoch = 0;
    /** @type {e2ee.SendChain|null} our chain for this epoch */
    this.chain = null;
    /** performance.now() when our epoch started */
    this.epochAt = 0;
    /** @type {Map<number, RecvState>} by sender */
    this.recv = new Map();
    /** epochs we started (a debug counter, read by the browser tests) */
    this.epochsStarted = 0;
    /** a member left: start a new epoch before anything else is sent */
    this.rotateDue = false;
  }

  /**
   * Start our next epoch: a fresh chain key, the old chain erased, and the
   * new key handed to every member (7.2).
   */
  async startEpoch() {
    this.rotateDue = false;
    const ck = e2ee.randomBytes(32);
    this.chain?.erase();
    this.chain = new e2ee.SendChain(ck, 1);
    ck.fill(0);
    this.epoch += 1;
    this.epochAt = performance.now();
    this.epochsStarted++;
    for (const m of this.room.others()) await this.shareKey(m);
  }

  /**
   * Hand member m our current chain key and next index (kind 4).
   * @param {SKPeer} m
   */
  async shareKey(m) {
    const keys = /** @type {NonNullable<typeof this.room.keys>} */ (this.room.keys);
    const identity = /** @type {NonNullable<typeof this.room.identity>} */ (this.room.identity);
    const snap = await this.chain.snapshot();
    try {
      const env = await e2ee.sealSenderKey({
        rid: keys.rid, sender: this.room.session, to: m.session, epoch: this.epoch, seq: this.room.nextCtl(),
        peerXPub: m.xPub, edPriv: identity.edPriv, ck: snap.ck, n: snap.n,
      });
      this.room.conn?.send(encodeEnvelopeFrame(env));
    } finally {
      snap.ck.fill(0);
    }
  }

  /** Whether our epoch is used up: 100 messages or 10 minutes (7.2 rule 3). */
  epochSpent() {
    if (!this.chain || this.rotateDue) return true;
    return Number(this.chain.n) - 1 >= e2ee.EPOCH_MESSAGES || performance.now() - this.epochAt >= e2ee.EPOCH_MS;
  }

  /**
   * A kind-4 envelope: a member's chain key for its epoch.
   * @param {Uint8Array} env
   * @param {import('./protocol.js').Header} h
   * @param {SKPeer} from
   */
  async onSenderKey(env, h, from) {
    const identity = /** @type {NonNullable<typeof this.room.identity>} */ (this.room.identity);
    const cur = this.recv.get(from.session);
    if (h.to !== this.room.session || !this.room.ctlFresh(from.session, h.seq) || (cur && h.epoch <= cur.epoch)) {
      this.room.rejected++;
      return;
    }
    let got;
    try {
      got = await e2ee.openSenderKey(env, {
        xPriv: identity.xPriv, xPub: identity.xPub, edPub: from.edPub, rid: this.room.keys?.rid, self: this.room.session,
      });
    } catch {
      this.room.rejected++;
      return;
    }
    this.room.lastCtl.set(from.session, h.seq);
    // The state may have moved while the key was opening: look again.
    const now = this.recv.get(from.session);
    if (now && h.epoch <= now.epoch) {
      got.ck.fill(0);
      this.room.rejected++;
      return;
    }
    now?.chain.erase();
    this.recv.set(from.session, { epoch: h.epoch, chain: new e2ee.RecvChain(got.ck, got.n) });
    got.ck.fill(0);
  }

  /**
   * Seal data as our next group message (kind 2), first starting a new
   * epoch if ours is spent. data is overwritten with zeros.
   * @param {Uint8Array} data
   * @returns {Promise<Uint8Array>} the envelope
   */
  async sealGroup(data) {
    const keys = /** @type {NonNullable<typeof this.room.keys>} */ (this.room.keys);
    const identity = /** @type {NonNullable<typeof this.room.identity>} */ (this.room.identity);
    if (this.epochSpent()) await this.startEpoch();
    const { mk, seq } = await this.chain.next();
    let env;
    try {
      env = await e2ee.sealChainMessage({
        kind: KIND.MSG, rid: keys.rid, sender: this.room.session, epoch: this.epoch, seq, mk,
        edPriv: identity.edPriv, data,
      });
    } finally {
      mk.fill(0);
      data.fill(0);
    }
    return env;
  }

  /**
   * A member left. 7.2 rule 3: whoever leaves keeps no key to what we say
   * next. The new epoch starts once the frames already queued are handled,
   * so members leaving together (a dropped network) cost one rotation, not
   * one each; a message sent meanwhile starts it first.
   */
  rotateSoon() {
    if (!this.chain || this.rotateDue) return;
    this.rotateDue = true;
    this.room.serial(async () => {
      if (this.rotateDue && this.chain) await this.startEpoch();
    }).catch((err) => console.warn('veil: new epoch failed:', err));
  }

  /**
   * Forget a member's receiving chain.
   * @param {number} session
   */
  forget(session) {
    this.recv.get(session)?.chain.erase();
    this.recv.delete(session);
  }

  /** Erase our chain and every receiving chain. */
  wipe() {
    this.chain?.erase();
    this.chain = null;
    for (const r of this.recv.values()) r.chain.erase();
    this.recv.clear();
  }
}
