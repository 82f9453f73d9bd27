import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  T, KIND, KIND_REPORT, CLOSE, MOD_ERROR, LEFT_REASON, HEADER_LEN, MIN_ENVELOPE, MAX_FRAME, MAX_HELLO,
  MAX_META, MAX_MEMBERS, MAX_WELCOME,
  encodeJoin, encodeResume, encodeEnvelopeFrame, encodePurge, encodeLogout,
  encodeOwner, encodeKick, encodeLock, encodeActive,
  decodeServerFrame, parseHeader, encodeHeader, closeMessage,
  encodeWelcome, encodeLeft, encodeError, encodeState,
} from '../static/js/protocol.js';

/** @param {string} s */
const hex = (s) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g) ?? [], (b) => parseInt(b, 16));
/** @param {Uint8Array} b */
const toHex = (b) => Buffer.from(b).toString('hex');
/** @param {number} n @param {number} start */
const seq = (n, start) => Uint8Array.from({ length: n }, (_, i) => (start + i) & 255);

const RID = seq(16, 0xa0);
const KEY32 = seq(32, 0x10);

/** A syntactically valid envelope (the relay never looks past the header). */
function fakeEnvelope(o = {}) {
  const h = encodeHeader({ kind: KIND.MSG, rid: RID, sender: 7, seq: 1n, ...o });
  const env = new Uint8Array(HEADER_LEN + 12 + 256 + 16 + 64);
  env.set(h);
  env.fill(0xcc, HEADER_LEN);
  return env;
}

test('constants match docs/protocol.md', () => {
  assert.deepEqual({ ...T }, {
    JOIN: 1, RESUME: 2, ENVELOPE: 3, PURGE: 4, LOGOUT: 5, OWNER: 6, KICK: 7, LOCK: 8, ACTIVE: 9,
    WELCOME: 0x81, LEFT: 0x82, ERROR: 0x83, STATE: 0x84,
  });
  assert.deepEqual({ ...KIND }, { HELLO: 1, MSG: 2, DM: 3, SK: 4, DMH: 5 });
  assert.equal(KIND_REPORT, 7);
  assert.equal(CLOSE.WRONG_PASSWORD, 4003);
  assert.equal(CLOSE.TOO_MANY, 4029);
  assert.deepEqual([CLOSE.LOCKED, CLOSE.REMOVED, CLOSE.IDLE], [4006, 4012, 4015]);
  assert.deepEqual({ ...MOD_ERROR }, { NOT_ALLOWED: 4010, NO_OWNER: 4014, NO_MEMBER: 4016 });
  assert.equal(LEFT_REASON[3], 'dropped');
  assert.equal(LEFT_REASON[5], 'removed by the owner');
  assert.equal(LEFT_REASON[6], 'idle');
  assert.equal(HEADER_LEN, 40);
  assert.equal(MIN_ENVELOPE, 132);
  assert.equal(MAX_FRAME, 1 + 40 + 12 + 65536 + 16 + 64);
});

test('client frames: exact bytes', () => {
  assert.equal(toHex(encodeJoin(RID, KEY32)), '01' + toHex(RID) + toHex(KEY32));
  assert.equal(toHex(encodeResume(RID, KEY32)), '02' + toHex(RID) + toHex(KEY32));
  assert.equal(toHex(encodePurge()), '04');
  assert.equal(toHex(encodePurge(KEY32)), '04' + toHex(KEY32));
  assert.equal(toHex(encodeLogout()), '05');
  const env = fakeEnvelope();
  assert.equal(toHex(encodeEnvelopeFrame(env)), '03' + toHex(env));
});

test('moderation frames (section 9): exact bytes', () => {
  assert.equal(toHex(encodeOwner(KEY32)), '06' + toHex(KEY32));
  assert.equal(toHex(encodeKick(0x01020304)), '0701020304');
  assert.equal(toHex(encodeKick(0xffffffff)), '07ffffffff');
  assert.equal(toHex(encodeLock(true)), '0801');
  assert.equal(toHex(encodeLock(false)), '0800');
  assert.equal(toHex(encodeActive()), '09');
  assert.throws(() => encodeOwner(seq(31, 0)), /owner/);
  assert.throws(() => encodeOwner(seq(33, 0)), /owner/);
  assert.throws(() => encodeKick(0), /session 0/);
  assert.throws(() => encodeKick(-1), /u32/);
  assert.throws(() => encodeKick(2 ** 32), /u32/);
  assert.throws(() => encodeKick(1.5), /u32/);
});

test('STATE: every flag combination round trips; bad lengths and unknown flags throw', () => {
  for (const [flags, st] of /** @type {const} */ ([
    [0, { locked: false, owner: false }], [1, { locked: true, owner: false }],
    [2, { locked: false, owner: true }], [3, { locked: true, owner: true }]])) {
    const b = Uint8Array.of(0x84, flags);
    assert.deepEqual(decodeServerFrame(b), { type: 'state', ...st });
    assert.deepEqual(encodeState(st), b);
  }
  assert.throws(() => decodeServerFrame(hex('84')), /truncated/);
  assert.throws(() => decodeServerFrame(hex('840100')), /trailing/);
  assert.throws(() => decodeServerFrame(hex('8404')), /unknown flags/);
  assert.throws(() => decodeServerFrame(hex('84ff')), /unknown flags/);
});

test('moderation ERROR and LEFT frames decode', () => {
  assert.deepEqual(decodeServerFrame(encodeError(4014, 'the owner is not in the room')),
    { type: 'error', code: MOD_ERROR.NO_OWNER, reason: 'the owner is not in the room' });
  assert.deepEqual(decodeServerFrame(encodeError(4016, 'no such member')),
    { type: 'error', code: MOD_ERROR.NO_MEMBER, reason: 'no such member' });
  assert.deepEqual(decodeServerFrame(hex('820000000705')), { type: 'left', session: 7, reason: 5 });
  assert.deepEqual(decodeServerFrame(hex('820000000706')), { type: 'left', session: 7, reason: 6 });
});

test('header: kind 7 (a report) is suite 2 with to = 0', () => {
  const h = encodeHeader({ kind: KIND_REPORT, suite: 2, rid: RID, sender: 5, epoch: 0, seq: 3n });
  assert.equal(toHex(h), '01' + '02' + '07' + '00' + toHex(RID) + '00000005' + '00000000' + '00000000' + '0000000000000003');
  assert.throws(() => encodeHeader({ kind: KIND_REPORT, rid: RID, sender: 5, seq: 3n }), /suite 2/);
  assert.throws(() => encodeHeader({ kind: KIND_REPORT, suite: 2, rid: RID, sender: 5, to: 4, seq: 3n }), /"to" must be 0/);
});

test('client frames: wrong sizes throw', () => {
  assert.throws(() => encodeJoin(seq(15, 0), KEY32));
  assert.throws(() => encodeJoin(RID, seq(31, 0)));
  assert.throws(() => encodeResume(RID, seq(33, 0)));
  assert.throws(() => encodePurge(seq(16, 0)));
  assert.throws(() => encodeEnvelopeFrame(new Uint8Array(131)));
  assert.throws(() => encodeEnvelopeFrame(new Uint8Array(MAX_FRAME)));
  assert.doesNotThrow(() => encodeEnvelopeFrame(new Uint8Array(MAX_FRAME - 1)));
});

test('header: fields and round trip', () => {
  const env = fakeEnvelope({ kind: KIND.DM, sender: 0xdeadbeef, to: 3, epoch: 0, seq: 0x0102030405060708n });
  assert.equal(toHex(env.subarray(0, 40)),
    '01' + '01' + '03' + '00' + toHex(RID) + 'deadbeef' + '00000003' + '00000000' + '0102030405060708');
  const h = parseHeader(env);
  assert.deepEqual(h, {
    version: 1, suite: 1, kind: 3, flags: 0, rid: RID, sender: 0xdeadbeef, to: 3, epoch: 0, seq: 0x0102030405060708n,
  });
  // The header is read from a view into a larger buffer correctly.
  const big = new Uint8Array(env.length + 10);
  big.set(env, 10);
  assert.deepEqual(parseHeader(big.subarray(10)), h);
});

test('header: short envelopes throw', () => {
  assert.throws(() => parseHeader(new Uint8Array(131)), /too short/);
  assert.doesNotThrow(() => parseHeader(new Uint8Array(132)));
  assert.throws(() => encodeHeader({ kind: 9, rid: RID, sender: 1, seq: 1 }));
  assert.throws(() => encodeHeader({ kind: 2, rid: RID, sender: -1, seq: 1 }));
  assert.throws(() => encodeHeader({ kind: 2, rid: RID, sender: 1, seq: -1 }));
  assert.throws(() => encodeHeader({ kind: 2, rid: seq(15, 0), sender: 1, seq: 1 }));
});

// A WELCOME written out by hand from the table in section 4.2, so the decoder
// is not only checked against its own encoder.
const WELCOME_HEX = [
  '81',
  '0000002a', // session 42
  toHex(KEY32), // token
  '0000000000036ee8', // remaining 225000 ms
  '01', // owner only
  '0003', 'aabbcc', // meta
  '0002', // two members
  '00000007', '0084', toHex(fakeEnvelope({ kind: KIND.HELLO, sender: 7 }).subarray(0, 132)),
  '00000009', '0000', // a member whose hello is empty (decodes; openHello would reject it)
].join('');

test('WELCOME decodes from hand-written bytes', () => {
  const f = decodeServerFrame(hex(WELCOME_HEX));
  assert.equal(f.type, 'welcome');
  if (f.type !== 'welcome') return;
  assert.equal(f.session, 42);
  assert.deepEqual(f.token, KEY32);
  assert.equal(f.remainingMs, 225000);
  assert.equal(f.policy, 'owner');
  assert.deepEqual(f.meta, hex('aabbcc'));
  assert.equal(f.members.length, 2);
  assert.equal(f.members[0].session, 7);
  assert.equal(f.members[0].hello.length, 132);
  assert.equal(f.members[1].session, 9);
  assert.equal(f.members[1].hello.length, 0);
  // Same bytes from the encoder used by tests and fakes.
  assert.equal(toHex(encodeWelcome(f)), WELCOME_HEX);
});

test('WELCOME round trip, and ArrayBuffer input', () => {
  const w = {
    session: 0xffffffff, token: KEY32, remainingMs: 3600000, policy: /** @type {const} */ ('anyone'),
    meta: seq(40, 1), members: [{ session: 1, hello: fakeEnvelope({ kind: KIND.HELLO, sender: 1 }) }],
  };
  const bytes = encodeWelcome(w);
  const f = decodeServerFrame(bytes.buffer.slice(0));
  assert.deepEqual(f, { type: 'welcome', ...w });
  const empty = decodeServerFrame(encodeWelcome({ session: 5, token: KEY32, remainingMs: 0, policy: 'owner' }));
  assert.deepEqual(empty, { type: 'welcome', session: 5, token: KEY32, remainingMs: 0, policy: 'owner', meta: new Uint8Array(0), members: [] });
});

test('WELCOME of a full room of the largest hellos decodes past MAX_FRAME; one byte more throws', () => {
  const members = Array.from({ length: MAX_MEMBERS }, (_, i) => ({ session: i + 1, hello: new Uint8Array(MAX_HELLO) }));
  const bytes = encodeWelcome({ session: 5, token: KEY32, remainingMs: 0, policy: 'owner', meta: new Uint8Array(MAX_META), members });
  assert.equal(bytes.length, MAX_WELCOME);
  assert.ok(MAX_WELCOME > MAX_FRAME);
  const f = decodeServerFrame(bytes);
  assert.equal(f.type === 'welcome' && f.members.length, MAX_MEMBERS);
  const over = new Uint8Array(MAX_WELCOME + 1);
  over.set(bytes);
  assert.throws(() => decodeServerFrame(over), /frame too large/);
  const envelope = new Uint8Array(MAX_FRAME + 1);
  envelope[0] = T.ENVELOPE;
  assert.throws(() => decodeServerFrame(envelope), /frame too large/);
});

test('WELCOME: every truncation throws, and so does a trailing byte', () => {
  const full = hex(WELCOME_HEX);
  for (let n = 0; n < full.length; n++) {
    assert.throws(() => decodeServerFrame(full.subarray(0, n)), Error, `truncated to ${n} of ${full.length} bytes`);
  }
  const longer = new Uint8Array(full.length + 1);
  longer.set(full);
  assert.throws(() => decodeServerFrame(longer), /trailing/);
});

test('WELCOME: bad fields throw', () => {
  const full = hex(WELCOME_HEX);
  const policy = full.slice();
  policy[1 + 4 + 32 + 8] = 2;
  assert.throws(() => decodeServerFrame(policy), /policy/);
  const zero = full.slice();
  zero.fill(0, 1, 5);
  assert.throws(() => decodeServerFrame(zero), /session 0/);
  const w = { session: 1, token: KEY32, remainingMs: 1, policy: /** @type {const} */ ('anyone') };
  assert.throws(() => decodeServerFrame(encodeWelcome({ ...w, meta: new Uint8Array(1025) })), /meta/);
  assert.throws(() => decodeServerFrame(encodeWelcome({ ...w, members: [{ session: 2, hello: new Uint8Array(MAX_HELLO + 1) }] })), /hello/);
  assert.throws(() => decodeServerFrame(encodeWelcome({ ...w, remainingMs: 2n ** 60n })), /remaining/);
});

test('LEFT', () => {
  assert.equal(toHex(encodeLeft(7, 3)), '820000000703');
  assert.deepEqual(decodeServerFrame(hex('820000000703')), { type: 'left', session: 7, reason: 3 });
  assert.throws(() => decodeServerFrame(hex('8200000007')));
  assert.throws(() => decodeServerFrame(hex('82000000070300')));
});

test('ERROR', () => {
  const b = encodeError(4010, 'not allowed');
  assert.equal(toHex(b), '83' + '0faa' + Buffer.from('not allowed').toString('hex'));
  assert.deepEqual(decodeServerFrame(b), { type: 'error', code: 4010, reason: 'not allowed' });
  assert.deepEqual(decodeServerFrame(hex('830faa')), { type: 'error', code: 4010, reason: '' });
  assert.deepEqual(decodeServerFrame(encodeError(1, 'déjà vu')), { type: 'error', code: 1, reason: 'déjà vu' });
  assert.throws(() => decodeServerFrame(hex('830f')));
  assert.throws(() => decodeServerFrame(hex('830faaff')), /UTF-8/);
});

test('ENVELOPE from the relay', () => {
  const env = fakeEnvelope({ kind: KIND.DM, sender: 4, to: 9, seq: 12n });
  const f = decodeServerFrame(encodeEnvelopeFrame(env));
  assert.equal(f.type, 'envelope');
  if (f.type !== 'envelope') return;
  assert.deepEqual(f.envelope, env);
  assert.equal(f.header.sender, 4);
  assert.equal(f.header.to, 9);
  assert.equal(f.header.seq, 12n);
  const short = new Uint8Array(132);
  short[0] = T.ENVELOPE;
  assert.throws(() => decodeServerFrame(short), /too short/);
});

test('unknown, empty, client-only and oversized frames throw', () => {
  assert.throws(() => decodeServerFrame(new Uint8Array(0)), /empty/);
  for (const t of [0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x80, 0x85, 0xff]) {
    assert.throws(() => decodeServerFrame(Uint8Array.of(t, 0, 0, 0, 0, 0)), /unknown frame type/, `type ${t}`);
  }
  assert.throws(() => decodeServerFrame(new Uint8Array(MAX_FRAME + 1)), /too large/);
  assert.throws(() => decodeServerFrame('hello'));
});

test('closeMessage gives a sentence for every code', () => {
  assert.equal(closeMessage(4003, 'wrong password'), 'Wrong password.');
  assert.equal(closeMessage(4004, 'room not found'),
    'This room does not exist any more: it expired, was purged, or the link is wrong.');
  for (const code of Object.values(CLOSE)) {
    const m = closeMessage(code, '');
    assert.match(m, /^[A-Z].*\.$/, `closeMessage(${code}) = ${JSON.stringify(m)}`);
  }
  assert.equal(closeMessage(4012, 'removed by the owner'), 'The owner removed you from this room.');
  assert.equal(closeMessage(4015, 'idle for too long'), 'You were disconnected after a long time without activity.');
  assert.match(closeMessage(4006, 'room locked'), /locked/);
  assert.equal(closeMessage(4321, 'odd'), 'The connection closed: odd (code 4321).');
  assert.equal(closeMessage(4321, ''), 'The connection closed (code 4321).');
});
