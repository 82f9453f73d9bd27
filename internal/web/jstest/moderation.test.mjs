// The browser's moderation state (moderation.js, docs/protocol.md section
// 9) with fake rooms around it: what is kept to report a message and when
// it is erased, a report from one tab opened and checked by an owner's tab
// (also about a member who left), what ERROR and STATE frames do, ACTIVE at
// most once a minute, and muting; and the word filter (wordfilter.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Moderation, KEEP_REPORTABLE, ACTIVE_EVERY_MS } from '../static/js/moderation.js';
import { WordFilter, parseList, foldText, MAX_ENTRIES } from '../static/js/wordfilter.js';
import {
  SendChain, sealChainMessage, reportKeyPair, newIdentity, fingerprint, enc, dec, b64url, randomBytes,
} from '../static/js/e2ee.js';
import { T, KIND, decodeServerFrame } from '../static/js/protocol.js';

/** @param {number} n @param {number} start */
const seq = (n, start) => Uint8Array.from({ length: n }, (_, i) => (start + i) & 255);
const RID = seq(16, 0x70);
const OWNER = seq(32, 0x20);
const ROSTER = seq(32, 0x50);

/**
 * A fake room around a Moderation: it records the frames sent and the
 * events emitted.
 * @param {{session: number, identity: any, owner?: Uint8Array|null}} o
 */
function fakeRoom(o) {
  /** @type {Uint8Array[]} */
  const sent = [];
  /** @type {any[]} */
  const events = [];
  const room = {
    keys: /** @type {any} */ ({ rid: RID, roster: ROSTER }),
    identity: o.identity,
    session: o.session,
    owner: o.owner ?? null,
    conn: /** @type {any} */ ({ open: true, send: (/** @type {Uint8Array} */ f) => { sent.push(f); return true; } }),
    /** @type {Map<number, any>} */
    members: new Map(),
    rejected: 0,
    /** @type {Map<number, bigint>} */
    lastCtl: new Map(),
    ctl: 0n,
    /** @param {number} s @param {bigint} q */
    ctlFresh(s, q) { const l = this.lastCtl.get(s); return l === undefined || q > l; },
    nextCtl() { this.ctl += 1n; return this.ctl; },
    /** @template T @param {() => Promise<T>} fn */
    serial: (fn) => fn(),
    /** @param {string} type @param {object} detail */
    emit: (type, detail) => events.push({ type, ...detail }),
    /** @param {string} text @param {string} [what] */
    system: (text, what) => events.push({ type: 'system', text, what }),
    membersChanged: () => events.push({ type: 'members' }),
    /** @param {Uint8Array} data */
    payloadOf: (data) => { try { return JSON.parse(dec.decode(data)); } catch { return null; } },
  };
  const mod = new Moderation(/** @type {any} */ (room));
  return { room, mod, sent, events };
}

/** A member as room.js keeps it. */
async function member(session, alias, identity, self = false) {
  return {
    session, alias, display: alias, fingerprint: await fingerprint(identity.edPub, identity.xPub),
    edPub: identity.edPub, xPub: identity.xPub, self,
  };
}

/** The meta a created room carries: its report public key. */
async function meta() {
  return { name: 'test', report: b64url((await reportKeyPair(OWNER, ROSTER, RID)).pub) };
}

/** A message from sender, sealed as kind 2, and its key. */
async function message(sender, session, body, n = 1) {
  const chain = new SendChain(randomBytes(32), n);
  const { mk, seq: s } = await chain.next();
  const data = enc.encode(JSON.stringify({ id: toID(body), body }));
  const env = await sealChainMessage({ kind: KIND.MSG, rid: RID, sender: session, epoch: 1, seq: s, mk, edPriv: sender.edPriv, data });
  return { env, mk, id: toID(body) };
}

/** @param {string} s */
function toID(s) {
  return Buffer.from(s.padEnd(16, '.').slice(0, 16)).toString('hex');
}

test('kept messages: the last 256, erased when dropped, nothing without a report key', async () => {
  const id = await newIdentity();
  const { mod, events } = fakeRoom({ session: 2, identity: id });
  const mk0 = seq(32, 1);
  mod.keep('a', new Uint8Array(200), mk0, 5);
  assert.equal(mod.kept.size, 0, 'a room without a report key keeps nothing');
  assert.ok(mk0.every((b) => b === 0), 'and erases the key at once');

  mod.setMeta(await meta());
  assert.equal(mod.canReport, true);
  /** @type {Uint8Array[]} */
  const keys = [];
  for (let i = 0; i < KEEP_REPORTABLE + 10; i++) {
    const mk = seq(32, i + 1);
    keys.push(mk);
    mod.keep(`m${i}`, new Uint8Array(200).fill(7), mk, 5);
  }
  assert.equal(KEEP_REPORTABLE, 256);
  assert.equal(mod.kept.size, 256);
  assert.equal(mod.reportable('m9'), false, 'the oldest went first');
  assert.equal(mod.reportable('m10'), true);
  assert.ok(keys[0].every((b) => b === 0), 'an evicted message key is erased');
  assert.ok(events.some((e) => e.type === 'reportable' && e.id === 'm0' && e.reportable === false));
  const k = /** @type {any} */ (mod.kept.get('m100'));
  mod.drop('m100');
  assert.equal(mod.reportable('m100'), false);
  assert.ok(k.mk.every((/** @type {number} */ b) => b === 0) && k.env.every((/** @type {number} */ b) => b === 0));
  // Too large to report: a message in the 65,536-byte bucket is not kept.
  const big = seq(32, 3);
  mod.keep('big', new Uint8Array(40 + 12 + 65536 + 16 + 64), big, 5);
  assert.equal(mod.reportable('big'), false);
  assert.ok(big.every((b) => b === 0));
  mod.wipe();
  assert.equal(mod.kept.size, 0);
  assert.ok(keys[KEEP_REPORTABLE].every((b) => b === 0), 'wipe erases every kept key');
});

/**
 * Three tabs: A sends, B reports, O is the owner.
 */
async function three() {
  const [ia, ib, io] = [await newIdentity(), await newIdentity(), await newIdentity()];
  const [a, b, o] = [await member(11, 'alice', ia), await member(22, 'bob', ib), await member(33, 'olga', io)];
  const B = fakeRoom({ session: 22, identity: ib });
  B.mod.setMeta(await meta());
  const O = fakeRoom({ session: 33, identity: io, owner: OWNER.slice() });
  O.mod.setMeta(await meta());
  for (const m of [a, b]) O.room.members.set(m.session, m);
  O.room.members.set(33, { ...o, self: true });
  return { ia, ib, io, a, b, o, B, O };
}

/**
 * The owner's tab proves its key: OWNER goes out after WELCOME, STATE 02 answers.
 * @param {ReturnType<typeof fakeRoom>} O
 */
async function becomeOwner(O) {
  O.mod.onWelcome(false);
  const f = O.sent.at(-1);
  assert.equal(f?.[0], T.OWNER);
  assert.deepEqual(f?.subarray(1), OWNER);
  await O.mod.onState({ locked: false, owner: true });
  assert.equal(O.mod.isOwner, true);
  assert.ok(O.mod.reportKey, 'the owner derived the report key');
}

/** The envelope inside the last ENVELOPE frame sent. @param {Uint8Array[]} sent */
function lastEnvelope(sent) {
  const f = decodeServerFrame(/** @type {Uint8Array} */ (sent.at(-1)).slice());
  assert.equal(f.type, 'envelope');
  return /** @type {any} */ (f);
}

test('a report from one tab is opened and checked by the owner\'s tab', async () => {
  const { ia, B, O } = await three();
  await becomeOwner(O);
  const msg = await message(ia, 11, 'you will regret this');
  B.mod.keep(msg.id, msg.env, msg.mk, 11);
  assert.equal(B.mod.reportable(msg.id), true);
  await B.mod.report(msg.id, 'a threat');
  assert.ok(B.events.some((e) => e.type === 'reportstate' && e.id === msg.id && e.state === 'sent'));
  const f = lastEnvelope(B.sent);
  assert.deepEqual([f.header.kind, f.header.to, f.header.epoch, f.header.seq], [7, 0, 0, 1n], 'kind 7, seq = the control counter');

  await O.mod.onReport(f.envelope, f.header, O.room.members.get(22));
  const card = O.events.find((e) => e.type === 'report')?.report;
  assert.ok(card, `a report card, events: ${JSON.stringify(O.events.filter((e) => e.type === 'system'))}`);
  assert.equal(card.text, 'you will regret this');
  assert.equal(card.note, 'a threat');
  assert.equal(card.kind, 'msg');
  assert.deepEqual([card.sender.alias, card.sender.session, card.sender.present], ['alice', 11, true]);
  assert.equal(card.sender.fingerprint, O.room.members.get(11).fingerprint);
  assert.deepEqual([card.reporter.alias, card.reporter.session], ['bob', 22]);

  // The same report again is a replay of the control counter.
  const before = O.room.rejected;
  await O.mod.onReport(f.envelope, f.header, O.room.members.get(22));
  assert.equal(O.room.rejected, before + 1);
  assert.equal(O.events.filter((e) => e.type === 'report').length, 1);
});

test('a report about a member who left still verifies; an unknown sender is dropped with a warning', async () => {
  const { ia, B, O, a } = await three();
  await becomeOwner(O);
  const msg = await message(ia, 11, 'said before leaving');
  B.mod.keep(msg.id, msg.env, msg.mk, 11);
  O.room.members.delete(11);
  O.mod.memberGone(a);
  await B.mod.report(msg.id, '');
  const f = lastEnvelope(B.sent);
  await O.mod.onReport(f.envelope, f.header, O.room.members.get(22));
  const card = O.events.find((e) => e.type === 'report')?.report;
  assert.ok(card);
  assert.equal(card.sender.present, false);
  assert.equal(card.note, '');

  // A sender this tab never saw.
  const stranger = await newIdentity();
  const m2 = await message(stranger, 99, 'who am I');
  B.mod.keep(m2.id, m2.env, m2.mk, 99);
  await B.mod.report(m2.id, '');
  const f2 = lastEnvelope(B.sent);
  await O.mod.onReport(f2.envelope, f2.header, O.room.members.get(22));
  assert.ok(O.events.some((e) => e.type === 'system' && e.what === 'warn' && /dropped: its sender is unknown/.test(e.text)));
});

test('a forged report (a message the sender did not sign) is dropped with a warning', async () => {
  const { ib, B, O } = await three();
  await becomeOwner(O);
  // bob makes up a message "from alice" under his own signature.
  const fake = await message(ib, 11, 'alice never said this');
  B.mod.keep(fake.id, fake.env, fake.mk, 11);
  await B.mod.report(fake.id, 'see');
  const f = lastEnvelope(B.sent);
  await O.mod.onReport(f.envelope, f.header, O.room.members.get(22));
  assert.equal(O.events.filter((e) => e.type === 'report').length, 0);
  assert.ok(O.events.some((e) => e.type === 'system' && e.what === 'warn' && /not alice's/.test(e.text)));
});

test('a tab that is not an owner drops reports; ERROR 4014 tells the reporter', async () => {
  const { ia, B, O } = await three();
  const msg = await message(ia, 11, 'hello');
  B.mod.keep(msg.id, msg.env, msg.mk, 11);
  await B.mod.report(msg.id, '');
  const f = lastEnvelope(B.sent);
  await O.mod.onReport(f.envelope, f.header, O.room.members.get(22));
  assert.equal(O.room.rejected, 1, 'no report key yet: rejected');
  assert.equal(B.mod.onError(4014, 'the owner is not in the room'), true);
  assert.ok(B.events.some((e) => e.type === 'reportstate' && e.id === msg.id && e.state === 'failed'));
  assert.ok(B.events.some((e) => e.type === 'problem' && e.text === 'The owner is not in the room; the report was not sent.'));
  await assert.rejects(() => B.mod.report('nope', ''), /no longer be reported/);
  await assert.rejects(() => B.mod.report(msg.id, 'x'.repeat(501)), /too long/);
});

test('OWNER, STATE and ERROR: a wrong key, lock notices, kick and lock frames', async () => {
  const id = await newIdentity();
  const R = fakeRoom({ session: 5, identity: id });
  R.room.members.set(6, await member(6, 'carol', await newIdentity()));
  R.room.members.set(5, await member(5, 'me', id, true));
  R.mod.kick(6);
  assert.equal(R.sent.length, 0, 'not an owner: nothing sent');
  // A wrong key: ERROR 4010 while OWNER is pending.
  assert.equal(R.mod.claim(seq(32, 9)), true);
  assert.equal(R.mod.onError(4010, 'wrong owner key'), true);
  assert.match(R.events.at(-1).text, /not the owner key/);
  assert.equal(R.mod.pendingOwner, null);
  // A purge refused is room.js's to explain.
  assert.equal(R.mod.onError(4010, 'only the owner may purge this room'), false);
  assert.equal(R.mod.onError(4010, 'wrong owner key'), false);
  assert.equal(R.mod.onError(4013, 'file too large'), false);
  // The right key.
  R.mod.claim(OWNER);
  await R.mod.onState({ locked: false, owner: true });
  assert.deepEqual(R.room.owner, OWNER, 'a key proven by STATE is kept for purge and reports');
  assert.ok(R.events.some((e) => e.type === 'system' && /You are the owner/.test(e.text)));
  R.mod.kick(6);
  assert.deepEqual(Array.from(/** @type {Uint8Array} */ (R.sent.at(-1))), [7, 0, 0, 0, 6]);
  R.mod.kick(5);
  assert.equal(R.sent.at(-1)?.[0], T.KICK, 'ourselves: nothing more sent');
  assert.deepEqual(Array.from(/** @type {Uint8Array} */ (R.sent.at(-1))), [7, 0, 0, 0, 6]);
  R.mod.setLocked(true);
  assert.deepEqual(Array.from(/** @type {Uint8Array} */ (R.sent.at(-1))), [8, 1]);
  await R.mod.onState({ locked: true, owner: true });
  assert.ok(R.events.some((e) => e.type === 'system' && e.text === 'The room is locked: nobody new can join.'));
  await R.mod.onState({ locked: true, owner: true });
  assert.equal(R.events.filter((e) => e.type === 'system' && /locked/.test(e.text)).length, 1, 'no notice without a change');
  await R.mod.onState({ locked: false, owner: true });
  assert.ok(R.events.some((e) => e.type === 'system' && /unlocked/.test(e.text)));
  assert.equal(R.mod.onError(4016, 'no such member'), true);
  assert.match(R.events.at(-1).text, /not in the room any more/);
  R.mod.wipe();
  assert.equal(R.mod.isOwner, false);
  assert.equal(R.mod.reportKey, null);
});

test('ACTIVE: at most once a minute', async () => {
  const R = fakeRoom({ session: 5, identity: await newIdentity() });
  R.mod.active();
  R.mod.active();
  R.mod.active();
  assert.deepEqual(R.sent.map((f) => f[0]), [T.ACTIVE]);
  R.mod.lastActive -= ACTIVE_EVERY_MS - 1000;
  R.mod.active();
  assert.equal(R.sent.length, 1);
  R.mod.lastActive -= 1000;
  R.mod.active();
  assert.deepEqual(R.sent.map((f) => Array.from(f)), [[9], [9]]);
});

test('mute: for this person only, nothing sent', async () => {
  const id = await newIdentity();
  const R = fakeRoom({ session: 5, identity: id });
  R.room.members.set(6, await member(6, 'carol', await newIdentity()));
  R.room.members.set(5, await member(5, 'me', id, true));
  R.mod.setMuted(6, true);
  R.mod.setMuted(5, true);
  assert.deepEqual([...R.mod.muted], [6], 'one cannot mute oneself');
  assert.ok(R.events.some((e) => e.type === 'mute' && e.session === 6 && e.muted === true));
  R.mod.setMuted(6, false);
  assert.equal(R.mod.muted.size, 0);
  assert.equal(R.sent.length, 0);
});

test('word filter: whole words, any case, NFKC, hidden characters ignored', () => {
  const f = new WordFilter();
  assert.equal(f.on, false);
  assert.equal(f.matches('anything'), false, 'off by default');
  f.set(parseList('Spoiler\n\n  the ending  \nspoiler\nC++'), 'blur');
  assert.deepEqual(f.entries, ['spoiler', 'the ending', 'c++']);
  assert.equal(f.mode, 'blur');
  for (const t of ['SPOILER!', 'a spoiler.', '**spoiler**', 'ｓｐｏｉｌｅｒ', 'spo\u200biler', 'The  Ending is near', 'I like C++ a lot']) {
    assert.equal(f.matches(t), true, t);
  }
  for (const t of ['spoilers', 'unspoiler', 'the endings', 'nothing here', 'C+']) {
    assert.equal(f.matches(t), false, t);
  }
  f.set(parseList('ﬁsh'), 'hide'); // the fi ligature folds to "fi"
  assert.equal(f.matches('Fish'), true);
  assert.equal(foldText('Ｈｉ\u00a0there'), 'hi there');
  f.clear();
  assert.equal(f.on, false);
  assert.equal(parseList(Array.from({ length: 300 }, (_, i) => `w${i}`).join('\n')).length, MAX_ENTRIES);
  assert.equal(parseList('x'.repeat(500))[0].length, 100);
  // Regular-expression characters are taken literally.
  f.set(parseList('a.b\n(x)'), 'hide');
  assert.equal(f.matches('axb'), false);
  assert.equal(f.matches('a.b and (x)'), true);
});
