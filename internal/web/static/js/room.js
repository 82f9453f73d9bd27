// @ts-check
// room.js: the state of one room as this browser tab sees it: keys, our
// session, the members and their keys, the sender-key chains and DM
// sessions of suite 2 (docs/protocol.md section 7; kept by senderkeys.js and
// dm.js), moderation (section 9; moderation.js), the messages on screen and
// their self-destruct timers. It speaks
// to the relay through socket.js and to the page only through events (Room
// is an EventTarget); it never touches the DOM and never stores anything
// outside this tab's memory.

import {
  KIND, KIND_CHUNK, KIND_REPORT, FLAG_LAST, CLOSE, VERSION, encodeJoin, encodeResume, encodeEnvelopeFrame, encodePurge,
  encodeLogout,
} from './protocol.js';
import * as e2ee from './e2ee.js';
import { Conn, backoffDelay, postRoom } from './socket.js';
import { SenderKeys } from './senderkeys.js';
import { DMSessions } from './dm.js';
import { Transfers } from './transfers.js';
import { Moderation } from './moderation.js';
import { prove } from './pow.js';

/** Longest message body accepted from the composer, in characters. */
export const MAX_BODY = 16000;
/** Characters of the original kept in a reply quote. */
export const REPLY_CHARS = 140;
/** Largest self-destruct time a message may carry (protocol 5.2). */
const MAX_TTL_S = 86400;
/** How long to keep trying to resume a dropped socket. */
const RESUME_WINDOW_MS = 30000;

/**
 * @typedef {object} Member
 * @property {number} session
 * @property {string} alias      normalised alias from the member's hello
 * @property {string} display    alias as shown (made unique with a fingerprint group)
 * @property {string} fingerprint
 * @property {string} safety     member safety code of us and them (7.3); '' for ourselves
 * @property {Uint8Array} edPub
 * @property {Uint8Array} xPub
 * @property {string[]} caps     capabilities from the signed hello
 * @property {boolean} self
 * @property {boolean} verified  marked verified by this person, for this session only
 */

/**
 * @typedef {object} Message
 * @property {string} id
 * @property {'msg'|'dm'|'system'} kind
 * @property {Date} at
 * @property {string} body        Markdown (kinds msg, dm) or plain text (system)
 * @property {{session: number, alias: string, fingerprint: string, self: boolean}} [from]
 * @property {{session: number, alias: string}} [to]   recipient of a DM
 * @property {{session: number, alias: string}} [peer] the other side of a DM
 * @property {number} [ttl]       seconds until it vanishes
 * @property {number} [expiresAt] Date.now() value when it vanishes
 * @property {{id: string, alias: string, text: string}} [reply]
 * @property {'pending'} [state]  a direct message waiting for its DM session
 * @property {import('./transfers.js').FileState} [file]  a file (docs/protocol.md 8), kept up to date
 */

/**
 * @typedef {'idle'|'deriving'|'connecting'|'proving'|'joined'|'reconnecting'|'ended'} Status
 */

/** @param {Uint8Array} b */
function hex(b) {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** A fresh random message id: 16 bytes as hex. */
export function newMessageID() {
  return hex(e2ee.randomBytes(16));
}

/**
 * Create a room on the relay: make the secret and owner key, run the key
 * schedule, seal the room's meta (its name, if any, and always the report
 * key that the owner key gives, docs/protocol.md 9.3), register it.
 * @param {{name: string, password: string, ttl: number, purge: 'anyone'|'owner', origin: string}} o
 * @returns {Promise<{link: string, fragment: string, secret: Uint8Array, owner: Uint8Array, ownerKey: string, ttl: number, hasPassword: boolean}>}
 */
export async function createRoom(o) {
  const secret = e2ee.randomBytes(32);
  const owner = e2ee.randomBytes(32);
  const hasPassword = o.password !== '';
  const keys = await e2ee.deriveRoom(secret, hasPassword ? o.password : undefined);
  const name = o.name.trim().slice(0, 200);
  const report = await e2ee.reportKeyPair(owner, keys.roster, keys.rid);
  report.priv.fill(0);
  /** @type {{name?: string, report: string}} */
  const meta = name !== '' ? { name, report: e2ee.b64url(report.pub) } : { report: e2ee.b64url(report.pub) };
  /** @type {{rid: string, verifier: string, owner: string, ttl: number, purge: 'anyone'|'owner', meta?: string}} */
  const body = {
    rid: e2ee.b64url(keys.rid),
    verifier: e2ee.b64url(keys.verifier),
    owner: e2ee.b64url(await e2ee.sha256(owner)),
    ttl: o.ttl,
    purge: o.purge,
    meta: e2ee.b64url(await e2ee.sealMeta(keys.roster, keys.rid, meta)),
  };
  const answer = await postRoom(body);
  const link = e2ee.makeLink(o.origin, secret, hasPassword);
  return {
    link,
    fragment: link.slice(link.indexOf('#')),
    secret,
    owner,
    ownerKey: e2ee.b64url(owner),
    ttl: answer.ttl,
    hasPassword,
  };
}

/**
 * Parse an owner key pasted by a person (b64url of 32 bytes).
 * @param {string} s
 * @returns {Uint8Array|null}
 */
export function parseOwnerKey(s) {
  try {
    const b = e2ee.fromB64url(s.trim());
    return b.length === 32 ? b : null;
  } catch {
    return null;
  }
}

/**
 * Make alias distinct from taken ones (compared case-insensitively) by
 * appending -2, -3, ... within the 32-character limit.
 * @param {string} alias normalised
 * @param {Iterable<string>} taken
 * @returns {string}
 */
export function distinctAlias(alias, taken) {
  const lower = new Set(Array.from(taken, (a) => a.toLowerCase()));
  if (!lower.has(alias.toLowerCase())) return alias;
  for (let n = 2; ; n++) {
    const suffix = `-${n}`;
    const base = Array.from(alias).slice(0, 32 - suffix.length).join('');
    const a = base + suffix;
    if (!lower.has(a.toLowerCase())) return a;
  }
}

/**
 * @typedef {{id: string, body: string, ttl?: number, reply?: {id: string, alias: string, text: string}, file?: unknown}} Payload
 */

/**
 * Validate and normalise a decrypted message plaintext. A "file" object is
 * passed on unread: Transfers judges it.
 * @param {unknown} m
 * @returns {Payload|null}
 */
export function checkPayload(m) {
  if (typeof m !== 'object' || m === null) return null;
  const o = /** @type {Record<string, unknown>} */ (m);
  if (typeof o.id !== 'string' || !/^[0-9a-f]{32}$/.test(o.id)) return null;
  if (typeof o.body !== 'string') return null;
  /** @type {Payload} */
  const out = { id: o.id, body: o.body.slice(0, MAX_BODY) };
  if (o.file !== undefined) {
    if (typeof o.file !== 'object' || o.file === null) return null;
    out.file = o.file;
  }
  if (o.ttl !== undefined) {
    if (typeof o.ttl !== 'number' || !Number.isInteger(o.ttl) || o.ttl < 1 || o.ttl > MAX_TTL_S) return null;
    out.ttl = o.ttl;
  }
  if (o.reply !== undefined && o.reply !== null) {
    const r = /** @type {Record<string, unknown>} */ (o.reply);
    if (typeof r !== 'object' || typeof r.id !== 'string' || typeof r.alias !== 'string' || typeof r.text !== 'string') {
      return null;
    }
    out.reply = {
      id: r.id.slice(0, 64),
      alias: e2ee.normalizeAlias(r.alias),
      text: Array.from(r.text).slice(0, REPLY_CHARS).join(''),
    };
  }
  return out;
}

/** @typedef {import('./dm.js').DMSession} DMSession */
/** @typedef {import('./senderkeys.js').RecvState} RecvState */

/**
 * Room is one tab's membership of one room. Events (CustomEvent, detail):
 *   'status'    {status}                  connection state changed
 *   'welcome'   {name, policy, resumed}   we are in (again, if resumed)
 *   'members'   {members: Member[]}       the member list changed (also: verified, DM sessions)
 *   'message'   {message: Message}        a message or system notice to show
 *   'remove'    {id}                      a message self-destructed
 *   'msgstate'  {id, state}               a queued direct message was sent ('sent') or not ('failed')
 *   'dmsession' {session, safety}         a DM session with this member is ready (or gone: safety '')
 *   'transfer'  {id, file}                a file's progress or outcome changed (file: the message's FileState)
 *   'state'     {locked, owner}           the relay's STATE: the room is locked; we are an owner
 *   'report'    {report: ReportCard}      a checked report to us, an owner (moderation.js)
 *   'reportstate' {id, state}             our report of message id went out ('sent') or found no owner ('failed')
 *   'reportable' {id, reportable}         message id can no longer be reported (it vanished or is too old)
 *   'mute'      {session, muted}          this person muted or unmuted a member
 *   'problem'   {text}                    something to tell the person; the room goes on
 *   'ended'     {code, reason, before}    the room is over for this tab (before: no WELCOME yet)
 *
 * Keys (suite 2, docs/protocol.md section 7): group messages are sealed with
 * our own sending chain of the current epoch, whose chain key we hand to
 * each member in a kind-4 envelope; direct messages with the chains of a
 * DM session set up by a kind-5 handshake. Hellos stay in suite 1 under the
 * roster key. Group and direct messages of suite 1 are rejected.
 */
export class Room extends EventTarget {
  /**
   * @param {{secret: Uint8Array, hasPassword: boolean, url: string, owner?: Uint8Array|null}} o
   */
  constructor(o) {
    super();
    /** @type {Uint8Array|null} */
    this.secret = o.secret;
    this.hasPassword = o.hasPassword;
    this.url = o.url;
    /** @type {Uint8Array|null} the owner key, if this tab holds it */
    this.owner = o.owner ?? null;
    /** @type {Status} */
    this.status = 'idle';
    /** @type {Awaited<ReturnType<typeof e2ee.deriveRoom>>|null} */
    this.keys = null;
    /** @type {Awaited<ReturnType<typeof e2ee.newIdentity>>|null} */
    this.identity = null;
    this.alias = '';
    this.session = 0;
    /** @type {Uint8Array|null} */
    this.token = null;
    /** performance.now() at which the room ends */
    this.deadline = 0;
    /** @type {'anyone'|'owner'} */
    this.policy = 'anyone';
    this.name = '';
    /** @type {Map<number, Member>} in join order */
    this.members = new Map();
    /** @type {Map<string, Message>} */
    this.messages = new Map();
    /** @type {Map<string, ReturnType<typeof setTimeout>>} */
    this.timers = new Map();

    // Suite 2 (docs/protocol.md section 7).
    /** our control counter: the seq of our kinds 1, 4 and 5 */
    this.ctl = 0n;
    /** @type {Map<number, bigint>} highest control seq accepted per sender */
    this.lastCtl = new Map();
    /** our epochs and sending chain, and the members' receiving chains */
    this.senderKeys = new SenderKeys(this);
    /** our DM sessions, by the peer's session id */
    this.dm = new DMSessions(this);
    /** files being sent and received */
    this.transfers = new Transfers(this);
    /** owner, kick, lock, reports, mute and ACTIVE (docs/protocol.md 9) */
    this.mod = new Moderation(this);
    /** @type {Map<string, string>} lower-case alias -> fingerprint, of verified members who left */
    this.verifiedGone = new Map();
    /**
     * Debug counters, read by the browser tests: envelopes rejected (bad
     * signature, replay, wrong epoch, suite 1, malformed), group messages
     * dropped because the sender's key has not arrived, messages reported
     * missing (and senderKeys.epochsStarted, epochs we started).
     */
    this.rejected = 0;
    this.nokey = 0;
    this.missing = 0;

    /** @type {Conn|null} */
    this.conn = null;
    this.welcomed = false;
    /** a proof of work was done for this tab's JOIN (one try only) */
    this.proved = false;
    this.attempt = 0;
    this.dropAt = 0;
    /** @type {ReturnType<typeof setTimeout>|null} */
    this.retry = null;
    /**
     * Frames and sends are handled one at a time, in order, though sealing
     * and opening are async: every change of the key state runs here.
     */
    this.queue = Promise.resolve();
  }

  /**
   * @param {string} type
   * @param {object} detail
   */
  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** @returns {string} a fresh message id */
  newID() {
    return newMessageID();
  }

  /** performance.now() when our epoch started (main.js's ?test hook ages it) */
  get epochAt() {
    return this.senderKeys.epochAt;
  }

  set epochAt(t) {
    this.senderKeys.epochAt = t;
  }

  /** @param {Status} s */
  setStatus(s) {
    this.status = s;
    this.emit('status', { status: s });
  }

  /**
   * Run fn after everything queued before it; the result is fn's.
   * @template T
   * @param {() => Promise<T>} fn
   * @returns {Promise<T>}
   */
  serial(fn) {
    const p = this.queue.then(fn);
    this.queue = p.then(() => {}, () => {});
    return p;
  }

  /** @returns {number} milliseconds of life left (by our own clock) */
  remainingMs() {
    return Math.max(0, this.deadline - performance.now());
  }

  /** @returns {Member|undefined} */
  me() {
    return this.members.get(this.session);
  }

  /** @returns {boolean} whether this tab may purge (policy or owner key) */
  canPurge() {
    return this.policy === 'anyone' || this.owner !== null;
  }

  /**
   * What the browser tests read (through main.js's ?test hook): counters and
   * epochs, never a key.
   */
  stats() {
    /** @type {Record<string, number>} */
    const recv = {};
    for (const [s, r] of this.senderKeys.recv) recv[s] = r.epoch;
    /** @type {Record<string, {sid: number, state: string, safety: string}>} */
    const dms = {};
    for (const [s, d] of this.dm.sessions) dms[s] = { sid: d.sid, state: d.state, safety: d.safety };
    const { chain } = this.senderKeys;
    return {
      session: this.session,
      epoch: this.senderKeys.epoch,
      sentInEpoch: chain ? Number(chain.n) - 1 : 0,
      epochsStarted: this.senderKeys.epochsStarted,
      rejected: this.rejected,
      nokey: this.nokey,
      missing: this.missing,
      files: { sending: this.transfers.outgoing.size, receiving: this.transfers.incoming.size },
      recv,
      dms,
      owner: this.mod.isOwner,
      locked: this.mod.locked,
      reportable: this.mod.kept.size,
      muted: this.mod.muted.size,
    };
  }

  /**
   * Derive the keys and join as a new session. Progress and the outcome
   * arrive as events ('status', then 'welcome' or 'ended').
   * @param {string} alias as typed
   * @param {string} [password]
   */
  async enter(alias, password) {
    if (!this.secret) throw new Error('room already wiped');
    this.setStatus('deriving');
    this.keys = await e2ee.deriveRoom(this.secret, this.hasPassword ? password : undefined);
    this.identity = await e2ee.newIdentity();
    this.alias = e2ee.normalizeAlias(alias) || e2ee.randomAlias();
    if (this.status === 'ended') return;
    this.setStatus('connecting');
    this.connect(encodeJoin(this.keys.rid, this.keys.join));
  }

  /**
   * @param {Uint8Array} first
   * @param {string} [proof] a proof of work for a JOIN (docs/protocol.md section 10)
   */
  connect(first, proof) {
    const c = new Conn(proof ? `${this.url}?pow=${encodeURIComponent(proof)}` : this.url, first);
    this.conn = c;
    c.addEventListener('frame', (ev) => {
      const f = /** @type {CustomEvent} */ (ev).detail;
      this.serial(() => this.onFrame(c, f)).catch((err) => {
        console.warn('veil: frame dropped:', err);
      });
    });
    c.addEventListener('bad', () => this.emit('problem', { text: 'A malformed frame from the server was ignored.' }));
    c.addEventListener('close', (ev) => {
      const d = /** @type {CustomEvent} */ (ev).detail;
      this.serial(async () => this.onClose(c, d.code, d.reason));
    });
  }

  /**
   * @param {Conn} c
   * @param {import('./protocol.js').ServerFrame} f
   */
  async onFrame(c, f) {
    if (c !== this.conn || this.status === 'ended') return;
    switch (f.type) {
      case 'welcome':
        await this.onWelcome(f);
        return;
      case 'envelope':
        if (!this.welcomed) return;
        await this.onEnvelope(f.envelope, f.header);
        return;
      case 'left':
        await this.onLeft(f.session, f.reason);
        return;
      case 'state':
        if (!this.welcomed) return;
        await this.mod.onState(f);
        return;
      case 'error':
        if (this.transfers.onError(f.code, f.reason)) return;
        if (this.mod.onError(f.code, f.reason)) return;
        this.emit('problem', {
          text: f.code !== CLOSE.NOT_ALLOWED ? e2eeSafeText(f.code, f.reason)
            : /owner key/i.test(f.reason) ? 'That is not the owner key of this room: it was not purged.'
              : 'Only the owner may purge this room. Use "Purge with owner key" if you have it.',
        });
    }
  }

  /**
   * @param {{session: number, token: Uint8Array, remainingMs: number, policy: 'anyone'|'owner', meta: Uint8Array, members: {session: number, hello: Uint8Array}[]}} w
   */
  async onWelcome(w) {
    const keys = /** @type {NonNullable<typeof this.keys>} */ (this.keys);
    const resumed = this.welcomed;
    if (resumed && w.session !== this.session) {
      // A resume must give back the same session; anything else is a new
      // membership that our keys and counters do not belong to.
      this.end(CLOSE.SESSION_ENDED, 'session ended');
      return;
    }
    this.session = w.session;
    this.token = w.token;
    this.deadline = performance.now() + w.remainingMs;
    this.policy = w.policy;
    this.attempt = 0;
    if (!resumed && w.meta.length > 0) {
      try {
        const meta = /** @type {Record<string, unknown>} */ (await e2ee.openMeta(keys.roster, keys.rid, w.meta));
        if (typeof meta.name === 'string') this.name = meta.name.slice(0, 200);
        this.mod.setMeta(meta);
      } catch {
        this.emit('problem', { text: 'The room name could not be decrypted.' });
      }
    }
    const listed = new Set();
    for (const m of w.members) {
      listed.add(m.session);
      if (m.session === this.session) continue;
      // Keys go out below, once our own hello has: a member cannot check a
      // sender key from someone it has not met.
      await this.addHello(m.hello, m.session, resumed, false);
    }
    if (resumed) {
      // Members who left while we were away.
      for (const [s, m] of this.members) {
        if (s !== this.session && !listed.has(s)) this.removeMember(m, 'left');
      }
    }
    if (!resumed) {
      this.alias = distinctAlias(this.alias, Array.from(this.members.values(), (m) => m.alias));
    }
    // After a resume too: the relay lists everyone but us, and others answer
    // a repeated hello with their current sender key, in case one was lost
    // while our socket was down.
    await this.sendHello();
    this.welcomed = true;
    if (this.others().length > 0) {
      // A first join hands our first chain to everyone here; a resume starts
      // a new epoch, which also covers members who joined while we were
      // away and keys of ours that may have been lost with the socket.
      await this.senderKeys.startEpoch();
    }
    this.setStatus('joined');
    this.mod.onWelcome(resumed);
    this.emit('welcome', { name: this.name, policy: this.policy, resumed });
    if (!resumed) {
      this.system(`You joined as ${this.alias}.`);
    } else {
      this.system('Reconnected.');
    }
  }

  /**
   * A decrypted message plaintext as checkPayload judges it (null if bad).
   * @param {Uint8Array} data
   * @returns {Payload|null}
   */
  payloadOf(data) {
    try {
      return checkPayload(JSON.parse(e2ee.dec.decode(data)));
    } catch {
      return null;
    }
  }

  /** @returns {Member[]} every member but us */
  others() {
    return Array.from(this.members.values()).filter((m) => !m.self);
  }

  /** @returns {bigint} the next control seq (kinds 1, 4, 5) */
  nextCtl() {
    this.ctl += 1n;
    return this.ctl;
  }

  async sendHello() {
    const keys = /** @type {NonNullable<typeof this.keys>} */ (this.keys);
    const identity = /** @type {NonNullable<typeof this.identity>} */ (this.identity);
    const env = await e2ee.sealHello({
      rid: keys.rid, sender: this.session, seq: this.nextCtl(), roster: keys.roster, identity, alias: this.alias,
    });
    this.conn?.send(encodeEnvelopeFrame(env));
    if (!this.members.has(this.session)) {
      const fp = await e2ee.fingerprint(identity.edPub, identity.xPub);
      this.members.set(this.session, {
        session: this.session, alias: this.alias, display: this.alias, fingerprint: fp, safety: '',
        edPub: identity.edPub, xPub: identity.xPub, caps: [], self: true, verified: false,
      });
      this.membersChanged();
    }
  }

  /**
   * Open a hello and add (or confirm) its member.
   * @param {Uint8Array} env
   * @param {number} session  the session the relay says sent it
   * @param {boolean} announce whether to post "X joined"
   * @param {boolean} share    whether to hand the member our sender key now
   */
  async addHello(env, session, announce, share) {
    const keys = /** @type {NonNullable<typeof this.keys>} */ (this.keys);
    const identity = /** @type {NonNullable<typeof this.identity>} */ (this.identity);
    let h;
    try {
      h = await e2ee.openHello(env, keys.roster);
    } catch {
      this.rejected++;
      return; // not sealed with this room's roster key, or forged: ignore
    }
    if (h.header.sender !== session || !sameBytes(h.header.rid, keys.rid)) {
      this.rejected++;
      return;
    }
    const known = this.members.get(session);
    if (!this.ctlFresh(session, h.header.seq)) {
      // The same hello twice (listed in WELCOME and also held for us during
      // a resume) says nothing new; anything else older is a replay.
      const dup = known && h.header.seq === this.lastCtl.get(session)
        && sameBytes(known.edPub, h.edPub) && sameBytes(known.xPub, h.xPub);
      if (!dup) this.rejected++;
      return;
    }
    if (known) {
      // A member's keys never change within a session (7.4).
      if (!sameBytes(known.edPub, h.edPub) || !sameBytes(known.xPub, h.xPub)) {
        this.rejected++;
        this.system(`Warning: ${known.display} announced different keys. That was refused: `
          + `${known.display} keeps key fingerprint ${known.fingerprint}, as in the member list.`, 'warn');
        return;
      }
      this.lastCtl.set(session, h.header.seq);
      const alias = e2ee.normalizeAlias(h.alias) || 'anonymous';
      if (alias !== known.alias) {
        const old = known.display;
        known.alias = alias;
        this.recomputeDisplay();
        this.system(`${old} is now ${known.display}.`);
        this.membersChanged();
      }
      // A repeated hello (after a resume) may mean our key was lost on the
      // way: hand over the current one again.
      if (share && this.senderKeys.chain) await this.senderKeys.shareKey(known);
      return;
    }
    this.lastCtl.set(session, h.header.seq);
    /** @type {Member} */
    const m = {
      session,
      alias: e2ee.normalizeAlias(h.alias) || 'anonymous',
      display: '',
      fingerprint: await e2ee.fingerprint(h.edPub, h.xPub),
      safety: await e2ee.memberSafety(identity.edPub, identity.xPub, h.edPub, h.xPub),
      edPub: h.edPub,
      xPub: h.xPub,
      caps: Array.isArray(h.caps) ? h.caps.filter((c) => typeof c === 'string') : [],
      self: false,
      verified: false,
    };
    this.members.set(session, m);
    this.recomputeDisplay();
    this.membersChanged();
    if (announce) this.system(`${m.display} joined`, 'join');
    const earlier = this.verifiedGone.get(m.alias.toLowerCase());
    if (earlier !== undefined && earlier !== m.fingerprint) {
      this.system(`${m.display} is a new member with new keys, not the ${m.alias} you verified earlier. `
        + 'Compare the safety code again before trusting them.', 'warn');
    }
    if (share) {
      // 7.2 rule 2: a new member reads from now on, never earlier.
      if (this.senderKeys.chain) await this.senderKeys.shareKey(m);
      else await this.senderKeys.startEpoch();
    }
  }

  /**
   * Whether seq is above the last control seq accepted from session.
   * @param {number} session
   * @param {bigint} seq
   */
  ctlFresh(session, seq) {
    const last = this.lastCtl.get(session);
    return last === undefined || seq > last;
  }

  /** Show later members sharing an alias with their fingerprint's first group. */
  recomputeDisplay() {
    const seen = new Set();
    for (const m of this.members.values()) {
      const k = m.alias.toLowerCase();
      m.display = seen.has(k) ? `${m.alias} (${m.fingerprint.slice(0, 4)})` : m.alias;
      seen.add(k);
    }
  }

  membersChanged() {
    this.emit('members', { members: Array.from(this.members.values()) });
  }

  /**
   * Mark a member verified, for this session only: nothing is kept once the
   * tab leaves the room, and a new session under the same alias is a new,
   * unverified member.
   * @param {number} session
   */
  verify(session) {
    const m = this.members.get(session);
    if (!m || m.self || m.verified) return;
    m.verified = true;
    this.membersChanged();
    this.system(`You marked ${m.display} as verified (safety code ${m.safety}), for this session only.`);
  }

  // ------------------------------------------------------------ envelopes in

  /**
   * A kind-2 envelope: a group message in a sender's chain.
   * @param {Uint8Array} env
   * @param {import('./protocol.js').Header} h
   * @param {Member} from
   */
  async onGroup(env, h, from) {
    if (h.to !== 0) {
      this.rejected++;
      return;
    }
    const r = this.senderKeys.recv.get(from.session);
    if (!r) {
      // No key from this sender yet: a newcomer reads from its first key on.
      this.nokey++;
      return;
    }
    if (h.epoch !== r.epoch) {
      this.rejected++;
      return;
    }
    const opened = await this.openInChain(env, from, r.chain);
    if (!opened) return;
    await this.deliver(opened.data, 'msg', from, opened.missing, { env, mk: opened.mk });
  }

  /**
   * A kind-3 envelope: a direct message in the peer's chain of our DM session.
   * @param {Uint8Array} env
   * @param {import('./protocol.js').Header} h
   * @param {Member} from
   */
  async onDirect(env, h, from) {
    const s = this.dm.get(from.session);
    if (h.to !== this.session || !s || s.state !== 'ready' || h.epoch !== s.sid) {
      this.rejected++;
      return;
    }
    const opened = await this.openInChain(env, from, s.recv);
    if (!opened) return;
    await this.deliver(opened.data, 'dm', from, opened.missing, { env, mk: opened.mk });
  }

  /**
   * Open env in chain: header and signature first, then the key for its seq
   * (skipped keys included); the chain moves on only if it opened (7.2).
   * The message key comes back too, to keep the message reportable (9.3).
   * @param {Uint8Array} env
   * @param {Member} from
   * @param {e2ee.RecvChain} chain
   * @returns {Promise<{data: Uint8Array, missing: number, mk: Uint8Array}|null>}
   */
  async openInChain(env, from, chain) {
    const keys = /** @type {NonNullable<typeof this.keys>} */ (this.keys);
    try {
      const opened = await e2ee.openWithChain(env, chain,
        { edPub: from.edPub, rid: keys.rid, self: this.session, keepKey: true });
      return { data: opened.data, missing: Number(opened.missing), mk: /** @type {Uint8Array} */ (opened.mk) };
    } catch {
      this.rejected++; // bad signature, replay, too far ahead, or does not open
      return null;
    }
  }

  /**
   * Show an opened message (and the gap before it, if any). A message with
   * a file starts its transfer. Its envelope and message key are kept to
   * report it to the owner (moderation.js), or erased.
   * @param {Uint8Array} data
   * @param {'msg'|'dm'} kind
   * @param {Member} from
   * @param {number} missing
   * @param {{env: Uint8Array, mk: Uint8Array}} raw
   */
  async deliver(data, kind, from, missing, raw) {
    if (missing > 0) {
      this.missing += missing;
      const what = kind === 'dm' ? 'direct message' : 'message';
      this.system(`${missing} ${what}${missing === 1 ? '' : 's'} missing from ${from.display}`, 'gap');
    }
    let payload;
    try {
      payload = checkPayload(JSON.parse(e2ee.dec.decode(data)));
    } catch {
      payload = null;
    }
    if (!payload || this.messages.has(payload.id)) {
      raw.mk.fill(0);
      this.rejected++;
      return;
    }
    this.mod.keep(payload.id, raw.env, raw.mk, from.session);
    const me = /** @type {Member} */ (this.me());
    /** @type {Message} */
    const msg = {
      id: payload.id,
      kind,
      at: new Date(),
      body: payload.body,
      from: { session: from.session, alias: from.display, fingerprint: from.fingerprint, self: false },
      ttl: payload.ttl,
      reply: payload.reply,
    };
    if (kind === 'dm') {
      msg.to = { session: me.session, alias: me.display };
      msg.peer = { session: from.session, alias: from.display };
    }
    if (payload.file !== undefined) msg.file = await this.transfers.onManifest(msg.id, payload.file, from, kind === 'dm');
    this.addMessage(msg);
  }

  /**
   * @param {Uint8Array} env
   * @param {import('./protocol.js').Header} h
   */
  async onEnvelope(env, h) {
    const keys = /** @type {NonNullable<typeof this.keys>} */ (this.keys);
    const flagsOK = h.flags === 0 || (h.kind === KIND_CHUNK && h.flags === FLAG_LAST);
    if (h.sender === this.session || !sameBytes(h.rid, keys.rid) || h.version !== VERSION || !flagsOK) {
      this.rejected++;
      return;
    }
    if (h.kind === KIND.HELLO) {
      await this.addHello(env, h.sender, true, true);
      return;
    }
    const from = this.members.get(h.sender);
    if (!from) {
      this.rejected++; // no hello yet: we cannot verify it
      return;
    }
    if (h.suite !== e2ee.SUITE2) {
      // Suite-1 messages are keyed from the link: no forward secrecy, so
      // this client never accepts them (7).
      this.rejected++;
      return;
    }
    switch (h.kind) {
      case KIND.MSG: await this.onGroup(env, h, from); return;
      case KIND.DM: await this.onDirect(env, h, from); return;
      case KIND.SK: await this.senderKeys.onSenderKey(env, h, from); return;
      case KIND.DMH: await this.dm.onHandshake(env, h, from); return;
      case KIND_CHUNK: await this.transfers.onChunk(env, h, from); return;
      case KIND_REPORT: await this.mod.onReport(env, h, from); return;
      default: this.rejected++;
    }
  }

  // ------------------------------------------------------------ DM sessions

  /**
   * The DM safety code with a member, once a session is ready.
   * @param {number} session
   * @returns {string}
   */
  dmSafety(session) {
    return this.dm.dmSafety(session);
  }

  // ------------------------------------------------------------ leaving

  /**
   * @param {number} session
   * @param {number} reason
   */
  async onLeft(session, reason) {
    const m = this.members.get(session);
    if (!m || session === this.session) return;
    const how = reason === 2 ? 'logged out' : reason === 3 ? 'lost the connection and left'
      : reason === 4 ? 'was disconnected (connection too slow)' : reason === 5 ? 'was removed by the owner'
        : reason === 6 ? 'left (idle)' : 'left';
    this.removeMember(m, how);
    // 7.2 rule 3: whoever leaves keeps no key to what we say next.
    this.senderKeys.rotateSoon();
  }

  /**
   * @param {Member} m
   * @param {string} how
   */
  removeMember(m, how) {
    this.members.delete(m.session);
    this.lastCtl.delete(m.session);
    this.senderKeys.forget(m.session);
    const s = this.dm.get(m.session);
    if (s) this.dm.dropDM(m.session, s);
    this.transfers.memberLeft(m.session);
    this.mod.memberGone(m);
    if (m.verified) this.verifiedGone.set(m.alias.toLowerCase(), m.fingerprint);
    this.recomputeDisplay();
    this.membersChanged();
    this.system(`${m.display} ${how}`, 'leave');
  }

  // ------------------------------------------------------------ messages

  /**
   * Post a system notice into the message list. what: 'info', 'join',
   * 'leave', 'gap' (messages missing), 'dm' (a DM session with its safety
   * code) or 'warn' (something an attacker may be behind).
   * @param {string} text
   * @param {string} [what]
   */
  system(text, what = 'info') {
    /** @type {Message & {what: string}} */
    const msg = { id: `sys-${newMessageID()}`, kind: 'system', at: new Date(), body: text, what };
    this.emit('message', { message: msg });
  }

  /** @param {Message} msg */
  addMessage(msg) {
    this.messages.set(msg.id, msg);
    if (msg.ttl) {
      msg.expiresAt = Date.now() + msg.ttl * 1000;
      this.timers.set(msg.id, setTimeout(() => this.vanish(msg.id), msg.ttl * 1000));
    }
    this.emit('message', { message: msg });
  }

  /** @param {string} id */
  vanish(id) {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
    const m = this.messages.get(id);
    if (m) m.body = '';
    this.transfers.vanish(id, m?.file);
    this.mod.drop(id);
    this.messages.delete(id);
    this.emit('remove', { id });
  }

  /**
   * Send a message to the room, or to one member when to is set. A first
   * direct message to a member sets up a DM session first; the message is
   * shown at once with state 'pending' and goes out when the session is
   * ready ('msgstate' tells).
   * @param {string} body Markdown
   * @param {{ttl?: number, reply?: string|null, to?: number|null}} [opt]
   * @returns {Promise<Message>}
   */
  send(body, opt = {}) {
    return this.serial(() => this.sendNow(body, opt));
  }

  /**
   * @param {string} body
   * @param {{ttl?: number, reply?: string|null, to?: number|null}} opt
   * @returns {Promise<Message>}
   */
  async sendNow(body, opt) {
    if (this.status !== 'joined' || !this.conn?.open) {
      throw new Error('Not connected: the message was not sent.');
    }
    if (body.trim() === '') throw new Error('The message is empty.');
    if (body.length > MAX_BODY) throw new Error(`The message is too long (at most ${MAX_BODY} characters).`);
    const me = /** @type {Member} */ (this.me());
    /** @type {{id: string, body: string, ttl?: number, reply?: {id: string, alias: string, text: string}}} */
    const payload = { id: newMessageID(), body };
    if (opt.ttl) payload.ttl = opt.ttl;
    if (opt.reply) {
      const orig = this.messages.get(opt.reply);
      if (orig && orig.from) {
        // A self-destructing message is quoted without its text, so it does
        // not outlive its timer inside the reply (docs/protocol.md 5.2).
        const text = orig.ttl ? '' : Array.from(quotable(orig)).slice(0, REPLY_CHARS).join('');
        payload.reply = { id: orig.id, alias: orig.from.alias, text };
      }
    }
    const data = e2ee.enc.encode(JSON.stringify(payload));
    /** @type {Message} */
    const msg = {
      id: payload.id,
      kind: 'msg',
      at: new Date(),
      body,
      from: { session: me.session, alias: me.display, fingerprint: me.fingerprint, self: true },
      ttl: payload.ttl,
      reply: payload.reply,
    };
    if (opt.to) {
      const peer = this.members.get(opt.to);
      if (!peer || peer.self) throw new Error('That member has left; the direct message was not sent.');
      msg.kind = 'dm';
      msg.to = { session: peer.session, alias: peer.display };
      msg.peer = { session: peer.session, alias: peer.display };
      let s = this.dm.get(peer.session);
      if (!s) s = await this.dm.offerDM(peer);
      if (s.state !== 'ready') {
        s.pending.push({ data, id: msg.id });
        msg.state = 'pending';
      } else {
        const sent = await this.dm.sealDM(peer, s, data);
        data.fill(0);
        if (!sent) throw new Error('Not connected: the message was not sent.');
      }
    } else {
      const env = await this.senderKeys.sealGroup(data);
      if (!this.conn?.send(encodeEnvelopeFrame(env))) throw new Error('Not connected: the message was not sent.');
    }
    this.addMessage(msg);
    return msg;
  }

  /**
   * Send a file (a File, or a Blob with a name) to the room, or to one
   * member when o.to is set; see Transfers.send. Resolves with the message
   * id once the manifest went out.
   * @param {Blob} blob
   * @param {{name: string, type?: string, voice?: boolean, to?: number|null, ttl?: number, caption?: string}} o
   * @returns {Promise<string>}
   */
  sendFile(blob, o) {
    return this.transfers.send(blob, o);
  }

  /**
   * Stop sending or receiving the file of message id.
   * @param {string} id
   */
  cancelTransfer(id) {
    // At once, not behind the chunks already queued: the transfer's own
    // checks drop whatever of it is still on its way.
    this.transfers.cancel(id);
  }

  /**
   * Ask the relay to purge the room. With an owner key (given, or held
   * since creating the room) the relay always accepts.
   * @param {Uint8Array|null} [owner]
   */
  purge(owner) {
    const key = owner ?? this.owner;
    if (!this.conn?.send(encodePurge(key ?? undefined))) {
      this.emit('problem', { text: 'Not connected: the room was not purged.' });
      return;
    }
    if (owner) this.owner = owner;
  }

  /** End this session for good; the relay answers by closing the socket. */
  logout() {
    const c = this.conn;
    if (c) {
      c.send(encodeLogout());
      // The relay closes with 1000 after LOGOUT; make sure the socket goes
      // even if it does not.
      setTimeout(() => c.close(1000, 'logged out'), 3000);
      c.closed = true;
    }
    this.conn = null;
    this.setStatus('ended');
    this.wipe();
  }

  /** Leave because the tab is going away: the relay ends the session at once. */
  leave() {
    this.conn?.close(1000, 'left');
    this.conn = null;
    this.setStatus('ended');
    this.wipe();
  }

  /**
   * @param {Conn} c
   * @param {number} code
   * @param {string} reason
   */
  async onClose(c, code, reason) {
    if (c !== this.conn || this.status === 'ended') return;
    if (code === CLOSE.POW && !this.welcomed && !this.proved && this.keys) {
      // The relay asks for a proof of work before it lets anyone join: do
      // it once, then join again.
      this.proved = true;
      this.setStatus('proving');
      let proof;
      try {
        proof = await prove();
      } catch (err) {
        this.end(code, `${reason} (${err instanceof Error ? err.message : err})`);
        return;
      }
      if (this.status !== 'proving' || !this.keys) return;
      this.setStatus('connecting');
      this.connect(encodeJoin(this.keys.rid, this.keys.join), proof);
      return;
    }
    // 1012: one node of a cluster went away; another serves the room.
    const dropped = code === 1006 || code === 1005 || code === CLOSE.RESTART;
    if (dropped && this.welcomed && this.token) {
      if (this.status !== 'reconnecting') this.dropAt = performance.now();
      if (performance.now() - this.dropAt < RESUME_WINDOW_MS) {
        this.setStatus('reconnecting');
        const delay = backoffDelay(this.attempt++);
        this.retry = setTimeout(() => {
          this.retry = null;
          if (this.status !== 'reconnecting' || !this.keys || !this.token) return;
          this.connect(encodeResume(this.keys.rid, this.token));
        }, delay);
        return;
      }
    }
    this.end(code, reason);
  }

  /**
   * The room is over for this tab: tell the page, then forget everything.
   * @param {number} code
   * @param {string} reason
   */
  end(code, reason) {
    const before = !this.welcomed;
    this.conn?.close(1000, '');
    this.conn = null;
    this.setStatus('ended');
    this.wipe();
    this.emit('ended', { code, reason, before });
  }

  /** Forget every key, member and message this tab holds. */
  wipe() {
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.transfers.wipe();
    for (const m of this.messages.values()) {
      m.body = '';
      if (m.file) delete m.file.blob;
    }
    this.messages.clear();
    this.members.clear();
    this.lastCtl.clear();
    this.senderKeys.wipe();
    this.dm.wipe();
    this.mod.wipe();
    this.verifiedGone.clear();
    this.secret?.fill(0);
    this.token?.fill(0);
    this.owner?.fill(0);
    this.secret = null;
    this.token = null;
    this.owner = null;
    this.keys = null;
    this.identity = null;
    this.name = '';
  }
}

/**
 * What a reply quotes of a message: its text, or for a file without a
 * caption, the file's name.
 * @param {Message} m
 * @returns {string}
 */
export function quotable(m) {
  if (m.body || !m.file) return m.body;
  return `${m.file.voice ? 'voice note' : 'file'}: ${m.file.name}`;
}

/**
 * @param {Uint8Array} a
 * @param {Uint8Array} b
 */
function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Text for an ERROR frame that is not 4010.
 * @param {number} code
 * @param {string} reason
 */
function e2eeSafeText(code, reason) {
  const r = reason.slice(0, 200);
  return r ? `The server answered: ${r} (code ${code}).` : `The server answered with code ${code}.`;
}
