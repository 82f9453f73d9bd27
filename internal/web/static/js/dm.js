// @ts-check
// dm.js: this tab's direct-message sessions of suite 2 (docs/protocol.md
// section 7.3): offering and accepting the kind-5 handshake, each session's
// pair of chains and safety code, the messages typed before a session was
// ready, and sealing direct messages. room.js owns one DMSessions and hands
// it kind-5 envelopes; what it needs of the room is DMHost. No DOM, no
// storage.

import { KIND, encodeEnvelopeFrame } from './protocol.js';
import * as e2ee from './e2ee.js';

/** How long an offered DM session waits for its accept. */
const DM_OFFER_TIMEOUT_MS = 15000;
/** Capabilities our hello announces: none (the browser has no ML-KEM, 7.3). */
/** @type {readonly string[]} */
const MY_CAPS = Object.freeze([]);

/**
 * A direct-message session with one member (docs/protocol.md 7.3).
 * @typedef {object} DMSession
 * @property {number} sid            the session id (the DM envelopes' epoch)
 * @property {'a'|'b'} role          a offered, b accepted
 * @property {'offered'|'ready'} state
 * @property {{priv: CryptoKey, pub: Uint8Array}|null} eph  our ephemeral key until the chains exist
 * @property {e2ee.SendChain|null} send  our direction's chain, once ready
 * @property {e2ee.RecvChain|null} recv  the peer's direction's chain, once ready
 * @property {string} safety         the DM safety code, once ready
 * @property {{data: Uint8Array, id: string}[]} pending  messages typed before the session was ready
 * @property {ReturnType<typeof setTimeout>|null} timer  gives up on an unanswered offer
 */

/**
 * The parts of a member (room.js's Member) a DM session uses.
 * @typedef {{session: number, display: string, edPub: Uint8Array, xPub: Uint8Array, caps: string[]}} DMPeer
 */

/**
 * What DMSessions uses of its room (room.js's Room).
 * @typedef {object} DMHost
 * @property {import('./e2ee.js').Room|null} keys
 * @property {import('./e2ee.js').Identity|null} identity
 * @property {number} session                  our session id
 * @property {import('./socket.js').Conn|null} conn
 * @property {Map<number, DMPeer>} members
 * @property {number} rejected                 count of envelopes refused
 * @property {Map<number, bigint>} lastCtl     highest control seq accepted per sender
 * @property {(session: number, seq: bigint) => boolean} ctlFresh
 * @property {() => bigint} nextCtl
 * @property {<T>(fn: () => Promise<T>) => Promise<T>} serial
 * @property {(type: string, detail: object) => void} emit
 * @property {(text: string, what?: string) => void} system
 * @property {() => void} membersChanged
 */

/** The DM sessions of one room membership, by the peer's session id. */
export class DMSessions {
  /**
   * @param {DMHost} room
   */
  constructor(room) {
    this.room = room;
    /** @type {Map<number, DMSession>} */
    this.sessions = new Map();
  }

  /**
   * The session with a member, if any.
   * @param {number} session
   * @returns {DMSession|undefined}
   */
  get(session) {
    return this.sessions.get(session);
  }

  /**
   * Whether a handshake with m must carry ML-KEM: only when both hellos
   * announce it. This client announces no ML-KEM, so never.
   * @param {DMPeer} m
   */
  wantKEM(m) {
    return MY_CAPS.includes(e2ee.CAP_MLKEM) && m.caps.includes(e2ee.CAP_MLKEM);
  }

  /**
   * Offer a DM session to peer (we are A).
   * @param {DMPeer} peer
   * @returns {Promise<DMSession>}
   */
  async offerDM(peer) {
    const keys = /** @type {NonNullable<typeof this.room.keys>} */ (this.room.keys);
    const identity = /** @type {NonNullable<typeof this.room.identity>} */ (this.room.identity);
    let sid = 0;
    while (sid === 0) sid = new DataView(e2ee.randomBytes(4).buffer).getUint32(0);
    const eph = await e2ee.newEphemeral();
    /** @type {DMSession} */
    const s = {
      sid, role: 'a', state: 'offered', eph, send: null, recv: null, safety: '', pending: [], timer: null,
    };
    this.sessions.set(peer.session, s);
    const env = await e2ee.sealHandshake({
      rid: keys.rid, sender: this.room.session, to: peer.session, sid, seq: this.room.nextCtl(), roster: keys.roster,
      edPriv: identity.edPriv, body: { t: 'offer', e: e2ee.b64url(eph.pub) },
    });
    this.room.conn?.send(encodeEnvelopeFrame(env));
    s.timer = setTimeout(() => {
      this.room.serial(async () => this.offerTimedOut(peer.session, s));
    }, DM_OFFER_TIMEOUT_MS);
    return s;
  }

  /**
   * @param {number} session
   * @param {DMSession} s
   */
  offerTimedOut(session, s) {
    if (this.sessions.get(session) !== s || s.state !== 'offered') return;
    this.dropDM(session, s);
    const m = this.room.members.get(session);
    this.room.emit('problem', {
      text: `${m?.display ?? 'That member'} did not answer the request for a direct session: `
        + 'the direct message was not sent. Try again.',
    });
  }

  /**
   * Forget a DM session; messages still waiting for it are reported as not sent.
   * @param {number} session
   * @param {DMSession} s
   */
  dropDM(session, s) {
    if (s.timer) clearTimeout(s.timer);
    s.timer = null;
    s.send?.erase();
    s.recv?.erase();
    s.eph = null;
    for (const p of s.pending) {
      p.data.fill(0);
      this.room.emit('msgstate', { id: p.id, state: 'failed' });
    }
    s.pending = [];
    if (this.sessions.get(session) === s) this.sessions.delete(session);
    if (s.state === 'ready') this.room.emit('dmsession', { session, safety: '' });
  }

  /**
   * A kind-5 envelope: an offer or an accept.
   * @param {Uint8Array} env
   * @param {import('./protocol.js').Header} h
   * @param {DMPeer} from
   */
  async onHandshake(env, h, from) {
    const keys = /** @type {NonNullable<typeof this.room.keys>} */ (this.room.keys);
    if (h.to !== this.room.session || h.epoch === 0 || !this.room.ctlFresh(from.session, h.seq)) {
      this.room.rejected++;
      return;
    }
    let body;
    try {
      // kem: whether ML-KEM parts must be there; a stripped or an unexpected
      // one is a downgrade or a forgery, and openHandshake rejects it.
      ({ body } = await e2ee.openHandshake(env, {
        roster: keys.roster, edPub: from.edPub, rid: keys.rid, self: this.room.session, kem: this.wantKEM(from),
      }));
    } catch {
      this.room.rejected++;
      return;
    }
    const e = e2ee.fromB64url(body.e);
    this.room.lastCtl.set(from.session, h.seq);
    if (body.t === 'offer') await this.onOffer(h.epoch, e, from);
    else await this.onAccept(h.epoch, e, from);
  }

  /**
   * @param {number} sid
   * @param {Uint8Array} eA the initiator's ephemeral key
   * @param {DMPeer} peer
   */
  async onOffer(sid, eA, peer) {
    const keys = /** @type {NonNullable<typeof this.room.keys>} */ (this.room.keys);
    const identity = /** @type {NonNullable<typeof this.room.identity>} */ (this.room.identity);
    const cur = this.sessions.get(peer.session);
    if (cur && cur.sid === sid) {
      this.room.rejected++;
      return;
    }
    /** @type {{data: Uint8Array, id: string}[]} */
    let carried = [];
    if (cur && cur.state === 'offered') {
      // Both offered at once (7.3): the offer of the initiator with the lower
      // session id stands, as in the Go client; if that is ours, the peer
      // drops its own offer and accepts ours.
      if (this.room.session < peer.session) return;
      carried = cur.pending;
      cur.pending = [];
    }
    if (cur) this.dropDM(peer.session, cur);
    const eph = await e2ee.newEphemeral();
    const d = await e2ee.dmDerive({
      role: 'b', rid: keys.rid, a: peer.session, b: this.room.session, sid,
      edA: peer.edPub, xA: peer.xPub, edB: identity.edPub, xB: identity.xPub,
      eA, eB: eph.pub, myEphPriv: eph.priv, myXPriv: identity.xPriv,
    });
    const env = await e2ee.sealHandshake({
      rid: keys.rid, sender: this.room.session, to: peer.session, sid, seq: this.room.nextCtl(), roster: keys.roster,
      edPriv: identity.edPriv, body: { t: 'accept', e: e2ee.b64url(eph.pub) },
    });
    /** @type {DMSession} */
    const s = {
      sid, role: 'b', state: 'ready', eph: null,
      send: new e2ee.SendChain(d.sendCK, 1), recv: new e2ee.RecvChain(d.recvCK, 1),
      safety: d.safety, pending: carried, timer: null,
    };
    wipeDerived(d);
    this.sessions.set(peer.session, s);
    this.room.conn?.send(encodeEnvelopeFrame(env));
    await this.sessionReady(peer, s);
  }

  /**
   * @param {number} sid
   * @param {Uint8Array} eB the responder's ephemeral key
   * @param {DMPeer} peer
   */
  async onAccept(sid, eB, peer) {
    const keys = /** @type {NonNullable<typeof this.room.keys>} */ (this.room.keys);
    const identity = /** @type {NonNullable<typeof this.room.identity>} */ (this.room.identity);
    const s = this.sessions.get(peer.session);
    if (!s || s.state !== 'offered' || s.sid !== sid || !s.eph) {
      this.room.rejected++;
      return;
    }
    const eph = s.eph;
    const d = await e2ee.dmDerive({
      role: 'a', rid: keys.rid, a: this.room.session, b: peer.session, sid,
      edA: identity.edPub, xA: identity.xPub, edB: peer.edPub, xB: peer.xPub,
      eA: eph.pub, eB, myEphPriv: eph.priv, myXPriv: identity.xPriv,
    });
    if (s.timer) clearTimeout(s.timer);
    s.timer = null;
    s.eph = null; // the ephemeral private key goes with the offer
    s.send = new e2ee.SendChain(d.sendCK, 1);
    s.recv = new e2ee.RecvChain(d.recvCK, 1);
    s.safety = d.safety;
    s.state = 'ready';
    wipeDerived(d);
    await this.sessionReady(peer, s);
  }

  /**
   * A DM session is ready: say so, and send what was typed meanwhile.
   * @param {DMPeer} peer
   * @param {DMSession} s
   */
  async sessionReady(peer, s) {
    this.room.emit('dmsession', { session: peer.session, safety: s.safety });
    this.room.membersChanged();
    this.room.system(`Direct messages with ${peer.display} are end-to-end encrypted. `
      + `Their safety code is ${s.safety}: compare it with ${peer.display} to be sure no one is in between.`, 'dm');
    const pending = s.pending;
    s.pending = [];
    for (const p of pending) {
      const ok = await this.sealDM(peer, s, p.data);
      p.data.fill(0);
      this.room.emit('msgstate', { id: p.id, state: ok ? 'sent' : 'failed' });
    }
  }

  /**
   * Seal data as the next message of our direction of s and send it.
   * @param {DMPeer} peer
   * @param {DMSession} s
   * @param {Uint8Array} data
   * @returns {Promise<boolean>} whether it went to the socket
   */
  async sealDM(peer, s, data) {
    const keys = /** @type {NonNullable<typeof this.room.keys>} */ (this.room.keys);
    const identity = /** @type {NonNullable<typeof this.room.identity>} */ (this.room.identity);
    const { mk, seq } = await s.send.next();
    let env;
    try {
      env = await e2ee.sealChainMessage({
        kind: KIND.DM, rid: keys.rid, sender: this.room.session, to: peer.session, epoch: s.sid, seq, mk,
        edPriv: identity.edPriv, data,
      });
    } finally {
      mk.fill(0);
    }
    return !!this.room.conn?.send(encodeEnvelopeFrame(env));
  }

  /**
   * The DM safety code with a member, once a session is ready.
   * @param {number} session
   * @returns {string}
   */
  dmSafety(session) {
    const s = this.sessions.get(session);
    return s && s.state === 'ready' ? s.safety : '';
  }

  /** Forget every session: erase their chains, drop what waits for them. */
  wipe() {
    for (const s of this.sessions.values()) {
      if (s.timer) clearTimeout(s.timer);
      s.send?.erase();
      s.recv?.erase();
      s.eph = null;
      for (const p of s.pending) p.data.fill(0);
    }
    this.sessions.clear();
  }
}

/**
 * Zero what dmDerive returned but the chains (which hold their own copies).
 * @param {{sendCK: Uint8Array, recvCK: Uint8Array}} d
 */
function wipeDerived(d) {
  d.sendCK.fill(0);
  d.recvCK.fill(0);
}
