// @ts-check
// moderation.js: this tab's side of moderation (docs/protocol.md section 9):
// proving the owner key (OWNER) and what the relay says back (STATE), kick
// and lock for an owner, reports to the owner (kind 7: the last messages'
// envelopes and message keys kept to report them, sealing a report, and
// for an owner opening and checking one), muting a member for oneself, and
// telling the relay the person is still there (ACTIVE). room.js owns one
// Moderation; what it needs of the room is ModerationHost. No DOM, and
// nothing outside this tab's memory.

import {
  KIND, MOD_ERROR, encodeOwner, encodeKick, encodeLock, encodeActive, encodeEnvelopeFrame, parseHeader,
} from './protocol.js';
import * as e2ee from './e2ee.js';
import { importX25519 } from './primitives.js';

/** Received messages kept reportable: their envelope and message key. */
export const KEEP_REPORTABLE = 256;
/** Members who left whose keys are kept, so reports about them still verify. */
const KEEP_GONE = 1024;
/** ACTIVE goes out at most this often. */
export const ACTIVE_EVERY_MS = 60000;
/** A report answered by no ERROR 4014 within this long reached an owner. */
const REPORT_ANSWER_MS = 10000;

/**
 * A report to show the owner (section 9.3), checked.
 * @typedef {object} ReportCard
 * @property {string} id             this card's id
 * @property {Date} at
 * @property {'msg'|'dm'} kind       a group or a direct message was reported
 * @property {string} text           the reported message's Markdown body
 * @property {string} [file]         the name of its file, if it carried one
 * @property {number} [ttl]          the reported message's self-destruct time, if any
 * @property {{session: number, alias: string, fingerprint: string, present: boolean, self: boolean}} sender
 * @property {{session: number, alias: string, fingerprint: string}} reporter
 * @property {string} note           the reporter's note ('' if none)
 */

/**
 * The parts of a member (room.js's Member) moderation uses.
 * @typedef {{session: number, alias: string, display: string, fingerprint: string, edPub: Uint8Array, self: boolean}} ModPeer
 */

/**
 * What Moderation uses of its room (room.js's Room).
 * @typedef {object} ModerationHost
 * @property {import('./e2ee.js').Room|null} keys
 * @property {import('./e2ee.js').Identity|null} identity
 * @property {number} session                  our session id
 * @property {Uint8Array|null} owner           the owner key, if this tab holds it
 * @property {import('./socket.js').Conn|null} conn
 * @property {Map<number, ModPeer>} members
 * @property {number} rejected                 count of envelopes refused
 * @property {Map<number, bigint>} lastCtl     highest control seq accepted per sender
 * @property {(session: number, seq: bigint) => boolean} ctlFresh
 * @property {() => bigint} nextCtl
 * @property {<T>(fn: () => Promise<T>) => Promise<T>} serial
 * @property {(type: string, detail: object) => void} emit
 * @property {(text: string, what?: string) => void} system
 * @property {() => void} membersChanged
 * @property {(data: Uint8Array) => {id: string, body: string, ttl?: number, file?: unknown}|null} payloadOf
 */

/**
 * @typedef {object} Kept
 * @property {Uint8Array} env   the envelope exactly as received
 * @property {Uint8Array} mk    the message key it opened with
 * @property {number} from      its sender's session
 */

/** This tab's moderation state for one room membership. */
export class Moderation {
  /** @param {ModerationHost} room */
  constructor(room) {
    this.room = room;
    /** whether the relay says this session is an owner (STATE 02) */
    this.isOwner = false;
    /** whether the relay says the room is locked (STATE 01) */
    this.locked = false;
    /** @type {Uint8Array|null} the room's report public key, from its meta */
    this.reportPub = null;
    /** @type {{priv: CryptoKey, pub: Uint8Array}|null} the report key pair, once we are an owner */
    this.reportKey = null;
    /** @type {Uint8Array|null} an owner key sent in OWNER, until STATE or ERROR answers */
    this.pendingOwner = null;
    /** @type {Map<string, Kept>} by message id, oldest first */
    this.kept = new Map();
    /** @type {Map<number, ModPeer>} members who left during this tab's life */
    this.gone = new Map();
    /** @type {Set<number>} members this person muted */
    this.muted = new Set();
    /** @type {{id: string, at: number}[]} reports sent that ERROR 4014 may still refuse */
    this.sent = [];
    /** performance.now() of our last ACTIVE (0: none yet) */
    this.lastActive = 0;
  }

  // ------------------------------------------------------------ meta and owner

  /**
   * Read the report key from the room's meta (section 3).
   * @param {Record<string, unknown>} meta
   */
  setMeta(meta) {
    this.reportPub = null;
    if (typeof meta.report !== 'string') return;
    try {
      const k = e2ee.fromB64url(meta.report);
      if (k.length === 32) this.reportPub = k;
    } catch {
      // a malformed key: this room takes no reports
    }
  }

  /** Whether reports can be sent in this room (its meta has a report key). */
  get canReport() {
    return this.reportPub !== null;
  }

  /**
   * After our first WELCOME: an owner key this tab holds (it created the
   * room) is proven at once. The relay keeps it across RESUME.
   * @param {boolean} resumed
   */
  onWelcome(resumed) {
    if (!resumed && this.room.owner) this.claim(this.room.owner);
  }

  /**
   * Send OWNER with key; STATE (owner) or ERROR 4010 (wrong key) answers.
   * @param {Uint8Array} key 32 bytes
   * @returns {boolean} whether it went out
   */
  claim(key) {
    const frame = encodeOwner(key);
    if (!this.room.conn?.send(frame)) return false;
    this.pendingOwner?.fill(0);
    this.pendingOwner = key.slice();
    return true;
  }

  /**
   * A STATE frame: whether the room is locked and whether we are an owner.
   * @param {{locked: boolean, owner: boolean}} st
   */
  async onState(st) {
    const wasLocked = this.locked;
    const wasOwner = this.isOwner;
    this.locked = st.locked;
    if (st.owner && !wasOwner) {
      this.isOwner = true;
      if (this.pendingOwner) {
        if (!this.room.owner) this.room.owner = this.pendingOwner.slice();
        else if (!e2ee.equalBytes(this.room.owner, this.pendingOwner)) this.room.owner.set(this.pendingOwner);
      }
      await this.deriveReportKey();
    }
    this.pendingOwner?.fill(0);
    this.pendingOwner = null;
    this.room.emit('state', { locked: this.locked, owner: this.isOwner });
    if (this.isOwner && !wasOwner) {
      this.room.system('You are the owner of this room: you can remove members and lock the room, '
        + 'and reports from members come to you.', 'owner');
      this.room.membersChanged();
    }
    if (this.locked !== wasLocked) {
      this.room.system(this.locked ? 'The room is locked: nobody new can join.'
        : 'The room is unlocked: anyone with the link can join again.', 'lock');
    }
  }

  async deriveReportKey() {
    const keys = this.room.keys;
    if (!this.room.owner || !keys) return;
    const { priv, pub } = await e2ee.reportKeyPair(this.room.owner, keys.roster, keys.rid);
    try {
      this.reportKey = { priv: await importX25519(priv), pub };
    } finally {
      priv.fill(0);
    }
  }

  /**
   * An ERROR frame about moderation; returns whether it was one.
   * @param {number} code
   * @param {string} reason
   * @returns {boolean}
   */
  onError(code, reason) {
    switch (code) {
      case MOD_ERROR.NOT_ALLOWED:
        if (this.pendingOwner) {
          this.pendingOwner.fill(0);
          this.pendingOwner = null;
          this.problem('That is not the owner key of this room, so you are not the owner. Check the key and try again.');
          return true;
        }
        // A refused PURGE (with no key, or a wrong one) is room.js's to explain.
        if (/purge|owner key/i.test(reason)) return false;
        this.problem('Only the owner may do that.');
        return true;
      case MOD_ERROR.NO_OWNER: {
        const now = performance.now();
        this.sent = this.sent.filter((r) => now - r.at < REPORT_ANSWER_MS);
        const r = this.sent.shift();
        if (r) this.room.emit('reportstate', { id: r.id, state: 'failed' });
        this.problem('The owner is not in the room; the report was not sent.');
        return true;
      }
      case MOD_ERROR.NO_MEMBER:
        this.problem('That member is not in the room any more.');
        return true;
      default:
        return false;
    }
  }

  /** @param {string} text */
  problem(text) {
    this.room.emit('problem', { text });
  }

  // ------------------------------------------------------------ owner actions

  /**
   * Remove a member (owner only): the relay closes its socket with 4012 and
   * tells the others (LEFT 5), who start a new epoch.
   * @param {number} session
   */
  kick(session) {
    if (!this.isOwner) {
      this.problem('Only the owner may remove members.');
      return;
    }
    const m = this.room.members.get(session);
    if (!m || m.self) return;
    if (!this.room.conn?.send(encodeKick(session))) this.problem('Not connected: nobody was removed.');
  }

  /**
   * Lock or unlock the room (owner only); STATE tells everyone.
   * @param {boolean} locked
   */
  setLocked(locked) {
    if (!this.isOwner) {
      this.problem('Only the owner may lock the room.');
      return;
    }
    if (!this.room.conn?.send(encodeLock(locked))) this.problem('Not connected: the room was not changed.');
  }

  // ------------------------------------------------------------ reports: the reporter

  /**
   * Keep a received message reportable: its envelope and message key, for
   * the last KEEP_REPORTABLE messages. mk is ours from now on.
   * @param {string} id
   * @param {Uint8Array} env
   * @param {Uint8Array} mk
   * @param {number} from
   */
  keep(id, env, mk, from) {
    if (!this.canReport || !e2ee.fitsReport(env.length)) {
      mk.fill(0);
      return;
    }
    this.drop(id);
    this.kept.set(id, { env, mk, from });
    while (this.kept.size > KEEP_REPORTABLE) {
      const oldest = /** @type {string} */ (this.kept.keys().next().value);
      this.drop(oldest);
    }
  }

  /**
   * Forget what makes a message reportable (it vanished, or is too old).
   * @param {string} id
   */
  drop(id) {
    const k = this.kept.get(id);
    if (!k) return;
    k.mk.fill(0);
    k.env.fill(0);
    this.kept.delete(id);
    this.room.emit('reportable', { id, reportable: false });
  }

  /**
   * Whether the message can be reported now.
   * @param {string} id
   */
  reportable(id) {
    return this.canReport && !this.isOwner && this.kept.has(id);
  }

  /**
   * Report a received message to the owner (kind 7, section 9.3), with an
   * optional note of at most 500 bytes. Resolves once it went out; ERROR
   * 4014 may still say no owner was there ('reportstate' tells).
   * @param {string} id
   * @param {string} note
   * @returns {Promise<void>}
   */
  report(id, note) {
    return this.room.serial(async () => {
      const keys = this.room.keys;
      const identity = this.room.identity;
      const k = this.kept.get(id);
      if (!keys || !identity || !this.reportPub) throw new Error('This room takes no reports.');
      if (!k) throw new Error('This message can no longer be reported.');
      if (e2ee.enc.encode(note).length > e2ee.MAX_NOTE) throw new Error(`The note is too long (at most ${e2ee.MAX_NOTE} bytes).`);
      const env = await e2ee.sealReport({
        rid: keys.rid, sender: this.room.session, seq: this.room.nextCtl(), reportPub: this.reportPub,
        edPriv: identity.edPriv, mk: k.mk, envelope: k.env, note,
      });
      if (!this.room.conn?.send(encodeEnvelopeFrame(env))) throw new Error('Not connected: the report was not sent.');
      const now = performance.now();
      this.sent = this.sent.filter((r) => now - r.at < REPORT_ANSWER_MS);
      this.sent.push({ id, at: now });
      this.room.emit('reportstate', { id, state: 'sent' });
    });
  }

  // ------------------------------------------------------------ reports: the owner

  /**
   * A kind-7 envelope: a report to us, an owner. Every check of section
   * 9.3 must pass; a report that fails one is dropped with a warning.
   * @param {Uint8Array} env
   * @param {import('./protocol.js').Header} h
   * @param {ModPeer} from the reporter
   */
  async onReport(env, h, from) {
    const keys = this.room.keys;
    if (!keys || !this.reportKey || !this.room.ctlFresh(from.session, h.seq)) {
      this.room.rejected++;
      return;
    }
    let opened;
    try {
      opened = await e2ee.openReport(env, {
        reportPriv: this.reportKey.priv, reportPub: this.reportKey.pub, reporterEdPub: from.edPub, rid: keys.rid,
      });
    } catch {
      this.refuse(from, 'it could not be opened');
      return;
    }
    this.room.lastCtl.set(from.session, h.seq);
    const { mk, reported, note } = opened;
    try {
      let eh;
      try {
        eh = parseHeader(reported);
      } catch {
        this.refuse(from, 'the reported message is malformed');
        return;
      }
      const sender = this.room.members.get(eh.sender) ?? this.gone.get(eh.sender);
      if (!sender) {
        this.refuse(from, 'its sender is unknown to this tab');
        return;
      }
      let data;
      try {
        ({ data } = await e2ee.checkReported(reported, { mk, senderEdPub: sender.edPub, rid: keys.rid, reporter: from.session }));
      } catch {
        this.refuse(from, `the reported message is not ${sender.display}'s as claimed`);
        return;
      }
      const payload = this.room.payloadOf(data);
      data.fill(0);
      if (!payload) {
        this.refuse(from, 'the reported message is malformed');
        return;
      }
      const file = payload.file && typeof payload.file === 'object'
        ? /** @type {Record<string, unknown>} */ (payload.file).name : undefined;
      /** @type {ReportCard} */
      const card = {
        id: `report-${e2ee.toHex(e2ee.randomBytes(8))}`,
        at: new Date(),
        kind: eh.kind === KIND.DM ? 'dm' : 'msg',
        text: payload.body,
        file: typeof file === 'string' ? file : undefined,
        ttl: payload.ttl,
        sender: {
          session: sender.session, alias: sender.display, fingerprint: sender.fingerprint,
          present: this.room.members.has(sender.session), self: sender.self,
        },
        reporter: { session: from.session, alias: from.display, fingerprint: from.fingerprint },
        note,
      };
      this.room.emit('report', { report: card });
    } finally {
      mk.fill(0);
      reported.fill(0);
    }
  }

  /**
   * @param {ModPeer} from
   * @param {string} why
   */
  refuse(from, why) {
    this.room.rejected++;
    this.room.system(`A report from ${from.display} was dropped: ${why}.`, 'warn');
  }

  // ------------------------------------------------------------ members

  /**
   * A member left: keep its keys, so a report about its messages still
   * verifies.
   * @param {ModPeer} m
   */
  memberGone(m) {
    this.gone.delete(m.session);
    this.gone.set(m.session, { ...m });
    while (this.gone.size > KEEP_GONE) this.gone.delete(/** @type {number} */ (this.gone.keys().next().value));
  }

  /**
   * Mute or unmute a member, for this person only: nothing is sent.
   * @param {number} session
   * @param {boolean} on
   */
  setMuted(session, on) {
    const m = this.room.members.get(session);
    if (!m || m.self || this.muted.has(session) === on) return;
    if (on) this.muted.add(session);
    else this.muted.delete(session);
    this.room.emit('mute', { session, muted: on });
    this.room.membersChanged();
  }

  // ------------------------------------------------------------ idle

  /**
   * The person did something (a key, a click, a touch): tell the relay, at
   * most once a minute, so it does not close the session as idle.
   */
  active() {
    const now = performance.now();
    if (this.lastActive !== 0 && now - this.lastActive < ACTIVE_EVERY_MS) return;
    if (this.room.conn?.send(encodeActive())) this.lastActive = now;
  }

  /** Forget every key, message key and mark (the room is over for this tab). */
  wipe() {
    for (const k of this.kept.values()) {
      k.mk.fill(0);
      k.env.fill(0);
    }
    this.kept.clear();
    this.gone.clear();
    this.muted.clear();
    this.sent = [];
    this.pendingOwner?.fill(0);
    this.pendingOwner = null;
    this.reportKey = null;
    this.reportPub = null;
    this.isOwner = false;
    this.locked = false;
  }
}
