// @ts-check
// protocol.js: the veil wire format, version 1 (docs/protocol.md sections 4,
// 5, 7 and 9). Frames in both directions and the 40-byte envelope header. Pure: no
// DOM, no network, no crypto; every decoder throws on malformed input instead
// of guessing.

/** Frame types (first byte of every WebSocket message). */
export const T = Object.freeze({
  JOIN: 1, RESUME: 2, ENVELOPE: 3, PURGE: 4, LOGOUT: 5, OWNER: 6, KICK: 7, LOCK: 8, ACTIVE: 9,
  WELCOME: 0x81, LEFT: 0x82, ERROR: 0x83, STATE: 0x84,
});

/** Flags of a STATE frame (section 4.2): the room is locked; this session is an owner. */
export const STATE_LOCKED = 1;
export const STATE_OWNER = 2;

/**
 * Envelope kinds (header byte 2): hello, group message, direct message,
 * sender key (section 7.2) and DM handshake (section 7.3).
 */
export const KIND = Object.freeze({ HELLO: 1, MSG: 2, DM: 3, SK: 4, DMH: 5 });

/**
 * A file chunk (section 8.2): kind 6, "to" 0 for the room or the DM peer,
 * epoch the transfer id, seq the chunk index + 1, and FLAG_LAST in the flags
 * byte of the last chunk only. Kept apart from KIND: encodeHeader and
 * headerProblem judge kinds 1 to 5, encodeChunkHeader this one.
 */
export const KIND_CHUNK = 6;
export const FLAG_LAST = 1;

/**
 * A report to the owner (section 9.3): kind 7, suite 2, "to" 0 like kinds 1
 * and 2 (the relay hands it to owner sessions only), epoch 0, seq the
 * sender's control counter. Kept apart from KIND like KIND_CHUNK:
 * encodeHeader writes it, headerProblem judges kinds 1 to 5 only.
 */
export const KIND_REPORT = 7;

/**
 * Whether an envelope of this kind is addressed to one member (its "to" is
 * the recipient and must not be 0). Kinds 1 and 2 go to the room and carry
 * to = 0; kinds 3, 4 and 5 go to one member.
 * @param {number} kind
 * @returns {boolean}
 */
export function isDirected(kind) {
  return kind === KIND.DM || kind === KIND.SK || kind === KIND.DMH;
}

/**
 * Whether kind is one this version knows.
 * @param {number} kind
 * @returns {boolean}
 */
export function isKnownKind(kind) {
  return Number.isInteger(kind) && kind >= KIND.HELLO && kind <= KIND.DMH;
}

/** WebSocket close codes used by the relay (section 4.4). */
export const CLOSE = Object.freeze({
  LOGGED_OUT: 1000, GOING_AWAY: 1001, TOO_LARGE: 1009, RESTART: 1012,
  BAD_FRAME: 4000, BAD_ENVELOPE: 4001, WRONG_PASSWORD: 4003, NOT_FOUND: 4004,
  ROOM_FULL: 4005, LOCKED: 4006, SESSION_ENDED: 4007, EXPIRED: 4008, PURGED: 4009,
  NOT_ALLOWED: 4010, TOO_SLOW: 4011, REMOVED: 4012, IDLE: 4015, POW: 4017, TOO_MANY: 4029,
});

/**
 * Codes of ERROR frames about moderation (section 9): a report while no
 * owner is in the room (4014), a KICK of a session that is not there
 * (4016). 4010 (NOT_ALLOWED) also answers an OWNER with a wrong key and a
 * KICK or LOCK from a session that is not an owner.
 */
export const MOD_ERROR = Object.freeze({ NOT_ALLOWED: 4010, NO_OWNER: 4014, NO_MEMBER: 4016 });

/**
 * Codes of ERROR frames about files (section 8.3): a transfer skipped for
 * this reader (4011, the same number as the "too slow" close), and a file
 * over the relay's size limit (4013).
 */
export const FILE_ERROR = Object.freeze({ SKIPPED: 4011, TOO_LARGE: 4013 });

/** Reasons carried by a LEFT frame. @type {Readonly<Record<number, string>>} */
export const LEFT_REASON = Object.freeze({
  1: 'left', 2: 'logged out', 3: 'dropped', 4: 'too slow', 5: 'removed by the owner', 6: 'idle',
});

/** Length of the envelope header, which is also the AEAD's associated data. */
export const HEADER_LEN = 40;
/** Envelope version and suites this module speaks: suite 1 (section 5) and
 * suite 2 (section 7: sender keys and DM sessions). */
export const VERSION = 1;
export const SUITE = 1;
export const SUITE2 = 2;
/** Nonce, GCM tag and Ed25519 signature sizes inside an envelope. */
export const NONCE_LEN = 12;
export const TAG_LEN = 16;
export const SIG_LEN = 64;
/** The shortest byte string that can be an envelope: header, nonce, tag, signature. */
export const MIN_ENVELOPE = HEADER_LEN + NONCE_LEN + TAG_LEN + SIG_LEN; // 132
/** The largest frame the relay accepts (section 4). */
export const MAX_FRAME = 65669;
/** Sizes of fixed fields. */
export const RID_LEN = 16;
export const JOIN_LEN = 32;
export const TOKEN_LEN = 32;
export const OWNER_LEN = 32;
/** The largest hello envelope: one whose plaintext fills the 1024-byte bucket. */
export const MAX_HELLO = 40 + 12 + 1024 + 16 + 64;
export const MAX_META = 1024;
/** The most sessions a room can have, on any relay. */
export const MAX_MEMBERS = 1000;
/**
 * The largest WELCOME, the one frame from the relay that may exceed
 * MAX_FRAME: it lists every member's hello (section 4.2).
 */
export const MAX_WELCOME = 1 + 4 + TOKEN_LEN + 8 + 1 + 2 + MAX_META + 2 + MAX_MEMBERS * (4 + 2 + MAX_HELLO);

/**
 * @typedef {object} Header
 * @property {number} version
 * @property {number} suite
 * @property {number} kind
 * @property {number} flags
 * @property {Uint8Array} rid     16 bytes (a copy)
 * @property {number} sender      session id of the sender
 * @property {number} to          recipient session id for kinds 3, 4 and 5, else 0
 * @property {number} epoch
 * @property {bigint} seq
 */

/**
 * @typedef {{type: 'envelope', envelope: Uint8Array, header: Header}
 *   | {type: 'welcome', session: number, token: Uint8Array, remainingMs: number,
 *      policy: 'anyone'|'owner', meta: Uint8Array, members: {session: number, hello: Uint8Array}[]}
 *   | {type: 'left', session: number, reason: number}
 *   | {type: 'error', code: number, reason: string}
 *   | {type: 'state', locked: boolean, owner: boolean}} ServerFrame
 */

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * @param {unknown} b
 * @param {number} n
 * @param {string} what
 * @returns {asserts b is Uint8Array}
 */
function need(b, n, what) {
  if (!(b instanceof Uint8Array) || b.length !== n) {
    throw new Error(`${what} must be ${n} bytes`);
  }
}

/**
 * @param {number} type
 * @param {...Uint8Array} parts
 * @returns {Uint8Array}
 */
function frame(type, ...parts) {
  let n = 1;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  out[0] = type;
  let off = 1;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

/**
 * JOIN: enter room rid as a new session, proving knowledge of join.
 * @param {Uint8Array} rid 16 bytes
 * @param {Uint8Array} join 32 bytes
 * @returns {Uint8Array}
 */
export function encodeJoin(rid, join) {
  need(rid, RID_LEN, 'rid');
  need(join, JOIN_LEN, 'join');
  return frame(T.JOIN, rid, join);
}

/**
 * RESUME: take back a session whose socket dropped.
 * @param {Uint8Array} rid 16 bytes
 * @param {Uint8Array} token 32 bytes, from WELCOME
 * @returns {Uint8Array}
 */
export function encodeResume(rid, token) {
  need(rid, RID_LEN, 'rid');
  need(token, TOKEN_LEN, 'token');
  return frame(T.RESUME, rid, token);
}

/**
 * ENVELOPE frame around a sealed envelope.
 * @param {Uint8Array} envelope
 * @returns {Uint8Array}
 */
export function encodeEnvelopeFrame(envelope) {
  if (!(envelope instanceof Uint8Array) || envelope.length < MIN_ENVELOPE) {
    throw new Error(`envelope must be at least ${MIN_ENVELOPE} bytes`);
  }
  if (envelope.length + 1 > MAX_FRAME) throw new Error('envelope too large');
  return frame(T.ENVELOPE, envelope);
}

/**
 * PURGE: end the room for everyone. Pass the owner key when the room's
 * policy is owner-only (it is accepted under either policy).
 * @param {Uint8Array} [owner] 32 bytes
 * @returns {Uint8Array}
 */
export function encodePurge(owner) {
  if (owner === undefined || owner === null) return frame(T.PURGE);
  need(owner, OWNER_LEN, 'owner');
  return frame(T.PURGE, owner);
}

/**
 * LOGOUT: end this session for good.
 * @returns {Uint8Array}
 */
export function encodeLogout() {
  return frame(T.LOGOUT);
}

/**
 * OWNER: prove this session holds the room's owner key (section 9.1).
 * @param {Uint8Array} owner 32 bytes
 * @returns {Uint8Array}
 */
export function encodeOwner(owner) {
  need(owner, OWNER_LEN, 'owner');
  return frame(T.OWNER, owner);
}

/**
 * KICK: remove a member (owner sessions only, section 9.2).
 * @param {number} session the member's session id, not 0
 * @returns {Uint8Array}
 */
export function encodeKick(session) {
  if (u32(session, 'session') === 0) throw new Error('kick: session 0');
  const out = frame(T.KICK, new Uint8Array(4));
  new DataView(out.buffer).setUint32(1, session);
  return out;
}

/**
 * LOCK: refuse (true) or allow (false) new joins (owner sessions only).
 * @param {boolean} locked
 * @returns {Uint8Array}
 */
export function encodeLock(locked) {
  return frame(T.LOCK, Uint8Array.of(locked ? 1 : 0));
}

/**
 * ACTIVE: the person is still there (section 6, idle sessions).
 * @returns {Uint8Array}
 */
export function encodeActive() {
  return frame(T.ACTIVE);
}

/** A bounds-checked big-endian reader over one frame. */
class Reader {
  /** @param {Uint8Array} b */
  constructor(b) {
    this.b = b;
    this.off = 0;
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  /** @param {number} n */
  take(n) {
    if (this.off + n > this.b.length) throw new Error('truncated frame');
    const start = this.off;
    this.off += n;
    return start;
  }
  u8() { return this.view.getUint8(this.take(1)); }
  u16() { return this.view.getUint16(this.take(2)); }
  u32() { return this.view.getUint32(this.take(4)); }
  u64() { return this.view.getBigUint64(this.take(8)); }
  /** @param {number} n a copy of the next n bytes */
  bytes(n) { const s = this.take(n); return this.b.slice(s, s + n); }
  rest() { return this.bytes(this.b.length - this.off); }
  end() { if (this.off !== this.b.length) throw new Error('trailing bytes in frame'); }
}

/**
 * @param {ArrayBuffer|ArrayBufferView} buf
 * @returns {Uint8Array}
 */
function asBytes(buf) {
  if (buf instanceof Uint8Array) return buf;
  if (buf instanceof ArrayBuffer) return new Uint8Array(buf);
  if (ArrayBuffer.isView(buf)) return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  throw new Error('frame must be binary');
}

/**
 * Decode one message from the relay. Throws an Error on anything malformed:
 * unknown type, wrong length, truncation, trailing bytes, invalid UTF-8.
 * @param {ArrayBuffer|Uint8Array} buf
 * @returns {ServerFrame}
 */
export function decodeServerFrame(buf) {
  const b = asBytes(buf);
  if (b.length === 0) throw new Error('empty frame');
  if (b.length > (b[0] === T.WELCOME ? MAX_WELCOME : MAX_FRAME)) throw new Error('frame too large');
  const r = new Reader(b);
  const type = r.u8();
  switch (type) {
    case T.ENVELOPE: {
      const envelope = r.rest();
      return { type: 'envelope', envelope, header: parseHeader(envelope) };
    }
    case T.WELCOME: {
      const session = r.u32();
      if (session === 0) throw new Error('welcome: session 0');
      const token = r.bytes(TOKEN_LEN);
      const remaining = r.u64();
      if (remaining > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('welcome: remaining_ms out of range');
      const p = r.u8();
      if (p > 1) throw new Error(`welcome: unknown policy ${p}`);
      const meta = r.bytes(r.u16());
      if (meta.length > MAX_META) throw new Error(`welcome: meta of ${meta.length} bytes`);
      const count = r.u16();
      /** @type {{session: number, hello: Uint8Array}[]} */
      const members = [];
      for (let i = 0; i < count; i++) {
        const s = r.u32();
        if (s === 0) throw new Error('welcome: member session 0');
        const hello = r.bytes(r.u16());
        if (hello.length > MAX_HELLO) throw new Error(`welcome: hello of ${hello.length} bytes`);
        members.push({ session: s, hello });
      }
      r.end();
      return {
        type: 'welcome', session, token, remainingMs: Number(remaining),
        policy: p === 0 ? 'anyone' : 'owner', meta, members,
      };
    }
    case T.LEFT: {
      const session = r.u32();
      const reason = r.u8();
      r.end();
      return { type: 'left', session, reason };
    }
    case T.ERROR: {
      const code = r.u16();
      let reason;
      try {
        reason = utf8.decode(r.rest());
      } catch {
        throw new Error('error frame: reason is not UTF-8');
      }
      return { type: 'error', code, reason };
    }
    case T.STATE: {
      const flags = r.u8();
      r.end();
      if (flags & ~(STATE_LOCKED | STATE_OWNER)) throw new Error(`state: unknown flags ${flags}`);
      return { type: 'state', locked: (flags & STATE_LOCKED) !== 0, owner: (flags & STATE_OWNER) !== 0 };
    }
    default:
      throw new Error(`unknown frame type 0x${type.toString(16).padStart(2, '0')}`);
  }
}

/**
 * Encode a WELCOME frame. The relay sends these; the client only needs this
 * for tests and fakes.
 * @param {{session: number, token: Uint8Array, remainingMs: number|bigint, policy: 'anyone'|'owner',
 *          meta?: Uint8Array, members?: {session: number, hello: Uint8Array}[]}} w
 * @returns {Uint8Array}
 */
export function encodeWelcome(w) {
  need(w.token, TOKEN_LEN, 'token');
  const meta = w.meta ?? new Uint8Array(0);
  const members = w.members ?? [];
  if (meta.length > 0xffff || members.length > 0xffff) throw new Error('welcome too large');
  let n = 1 + 4 + 32 + 8 + 1 + 2 + meta.length + 2;
  for (const m of members) {
    if (m.hello.length > 0xffff) throw new Error('hello too large');
    n += 4 + 2 + m.hello.length;
  }
  const out = new Uint8Array(n);
  const v = new DataView(out.buffer);
  let o = 0;
  v.setUint8(o, T.WELCOME); o += 1;
  v.setUint32(o, w.session); o += 4;
  out.set(w.token, o); o += 32;
  v.setBigUint64(o, BigInt(w.remainingMs)); o += 8;
  v.setUint8(o, w.policy === 'owner' ? 1 : 0); o += 1;
  v.setUint16(o, meta.length); o += 2;
  out.set(meta, o); o += meta.length;
  v.setUint16(o, members.length); o += 2;
  for (const m of members) {
    v.setUint32(o, m.session); o += 4;
    v.setUint16(o, m.hello.length); o += 2;
    out.set(m.hello, o); o += m.hello.length;
  }
  return out;
}

/**
 * Encode a LEFT frame (for tests and fakes).
 * @param {number} session
 * @param {number} reason
 * @returns {Uint8Array}
 */
export function encodeLeft(session, reason) {
  const out = new Uint8Array(6);
  const v = new DataView(out.buffer);
  v.setUint8(0, T.LEFT);
  v.setUint32(1, session);
  v.setUint8(5, reason);
  return out;
}

/**
 * Encode an ERROR frame (for tests and fakes).
 * @param {number} code
 * @param {string} reason
 * @returns {Uint8Array}
 */
export function encodeError(code, reason) {
  const r = new TextEncoder().encode(reason);
  const out = new Uint8Array(3 + r.length);
  const v = new DataView(out.buffer);
  v.setUint8(0, T.ERROR);
  v.setUint16(1, code);
  out.set(r, 3);
  return out;
}

/**
 * Encode a STATE frame (for tests and fakes).
 * @param {{locked: boolean, owner: boolean}} st
 * @returns {Uint8Array}
 */
export function encodeState(st) {
  return Uint8Array.of(T.STATE, (st.locked ? STATE_LOCKED : 0) | (st.owner ? STATE_OWNER : 0));
}

/**
 * Read the 40-byte header of an envelope. It checks only the length (at
 * least 132 bytes: header, nonce, GCM tag, signature); version, suite and
 * kind are returned as found for the caller to judge.
 * @param {Uint8Array} envelope
 * @returns {Header}
 */
export function parseHeader(envelope) {
  if (!(envelope instanceof Uint8Array)) throw new Error('envelope must be bytes');
  if (envelope.length < MIN_ENVELOPE) {
    throw new Error(`envelope too short: ${envelope.length} bytes, want at least ${MIN_ENVELOPE}`);
  }
  const v = new DataView(envelope.buffer, envelope.byteOffset, HEADER_LEN);
  return {
    version: envelope[0],
    suite: envelope[1],
    kind: envelope[2],
    flags: envelope[3],
    rid: envelope.slice(4, 20),
    sender: v.getUint32(20),
    to: v.getUint32(24),
    epoch: v.getUint32(28),
    seq: v.getBigUint64(32),
  };
}

/**
 * Write an envelope header: version 1, flags 0, suite 1 unless h.suite says
 * 2. Kinds 3, 4 and 5 need a non-zero "to"; kinds 1, 2 and 7 (a report, in
 * suite 2 only) need to = 0.
 * @param {{kind: number, rid: Uint8Array, sender: number, to?: number, epoch?: number, seq: number|bigint,
 *          suite?: number}} h
 * @returns {Uint8Array} 40 bytes
 */
export function encodeHeader(h) {
  need(h.rid, RID_LEN, 'rid');
  if (!isKnownKind(h.kind) && h.kind !== KIND_REPORT) throw new Error(`unknown kind ${h.kind}`);
  const suite = h.suite ?? SUITE;
  if (suite !== SUITE && suite !== SUITE2) throw new Error(`unknown suite ${suite}`);
  if (h.kind === KIND_REPORT && suite !== SUITE2) throw new Error('kind 7 is suite 2 only');
  const to = u32(h.to ?? 0, 'to');
  if (isDirected(h.kind) ? to === 0 : to !== 0) {
    throw new Error(`kind ${h.kind}: "to" must be ${isDirected(h.kind) ? 'a member' : '0'}`);
  }
  const out = new Uint8Array(HEADER_LEN);
  const v = new DataView(out.buffer);
  out[0] = VERSION;
  out[1] = suite;
  out[2] = h.kind;
  out[3] = 0;
  out.set(h.rid, 4);
  v.setUint32(20, u32(h.sender, 'sender'));
  v.setUint32(24, to);
  v.setUint32(28, u32(h.epoch ?? 0, 'epoch'));
  const seq = BigInt(h.seq);
  if (seq < 0n || seq > 0xffffffffffffffffn) throw new Error('seq out of range');
  v.setBigUint64(32, seq);
  return out;
}

/**
 * Write the header of a file chunk (section 8.2): version 1, suite 2, kind
 * 6, FLAG_LAST when last, epoch = the transfer id (not 0), seq = index + 1.
 * @param {{rid: Uint8Array, sender: number, to?: number, tid: number, index: number, last: boolean}} h
 * @returns {Uint8Array} 40 bytes
 */
export function encodeChunkHeader(h) {
  need(h.rid, RID_LEN, 'rid');
  const tid = u32(h.tid, 'transfer id');
  if (tid === 0) throw new Error('chunk: transfer id 0');
  if (!Number.isSafeInteger(h.index) || h.index < 0) throw new Error('chunk: bad index');
  const out = new Uint8Array(HEADER_LEN);
  const v = new DataView(out.buffer);
  out[0] = VERSION;
  out[1] = SUITE2;
  out[2] = KIND_CHUNK;
  out[3] = h.last ? FLAG_LAST : 0;
  out.set(h.rid, 4);
  v.setUint32(20, u32(h.sender, 'sender'));
  v.setUint32(24, u32(h.to ?? 0, 'to'));
  v.setUint32(28, tid);
  v.setBigUint64(32, BigInt(h.index + 1));
  return out;
}

/**
 * Judge a parsed header the way the relay does (section 5): version 1, a
 * known suite and kind, flags 0, a non-zero sender, and "to" non-zero
 * exactly for kinds 3, 4 and 5. Returns '' when it is well formed, else the
 * reason.
 * @param {Header} h
 * @returns {string}
 */
export function headerProblem(h) {
  if (h.version !== VERSION) return `unknown version ${h.version}`;
  if (h.suite !== SUITE && h.suite !== SUITE2) return `unknown suite ${h.suite}`;
  if (!isKnownKind(h.kind)) return `unknown kind ${h.kind}`;
  if (h.flags !== 0) return `unknown flags ${h.flags}`;
  if (h.sender === 0) return 'sender 0';
  if (isDirected(h.kind) ? h.to === 0 : h.to !== 0) {
    return `kind ${h.kind} envelope ${h.to === 0 ? 'without a recipient' : `addressed to ${h.to}`}`;
  }
  return '';
}

/**
 * @param {number} n
 * @param {string} what
 */
function u32(n, what) {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`${what} must be a u32`);
  return n;
}

/** @type {Readonly<Record<number, string>>} */
const CLOSE_TEXT = Object.freeze({
  1000: 'You have left the room.',
  1001: 'The server is restarting or shutting down. Try the link again in a moment.',
  1005: 'The connection was closed.',
  1006: 'The connection to the server was lost.',
  1009: 'A message was too large for the server.',
  1011: 'The server hit an internal error.',
  1012: 'The server this tab was on went away, and no other could take the room over in time.',
  4000: 'The server rejected a malformed message. Reload the page to reconnect.',
  4001: 'The server rejected an envelope this client sent. Reload the page to reconnect.',
  4003: 'Wrong password.',
  4004: 'This room does not exist any more: it expired, was purged, or the link is wrong.',
  4005: 'This room is full.',
  4006: 'This room is locked: the owner is not letting anyone new join right now.',
  4007: 'Your session has ended. Open the link again to rejoin.',
  4008: 'This room has expired. Everything in it is gone.',
  4009: 'This room was purged. Everything in it is gone.',
  4010: 'You are not allowed to do that in this room.',
  4011: 'Your connection could not keep up with the room, so the server closed it.',
  4012: 'The owner removed you from this room.',
  4015: 'You were disconnected after a long time without activity.',
  4017: 'This server asks for a proof of work before anyone joins, and it could not be done.',
  4029: 'Too many wrong attempts for this room. Wait a minute and try again.',
});

/**
 * A sentence for a person explaining why the socket closed (or, for 4010,
 * why an ERROR frame arrived). Unknown codes fall back to the relay's reason.
 * @param {number} code
 * @param {string} [reason]
 * @returns {string}
 */
export function closeMessage(code, reason) {
  const known = CLOSE_TEXT[code];
  if (known) return known;
  const r = (reason ?? '').trim();
  if (r) return `The connection closed: ${r.slice(0, 200)} (code ${code}).`;
  return `The connection closed (code ${code}).`;
}
