// Suite 2 (docs/protocol.md section 7) in the browser's crypto module:
// chains and their skipped-key window, chain messages, sender keys, the DM
// handshake and safety codes. The shared vectors with Go are in
// vectors2.test.mjs; these are the unit tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';

import {
  SUITE2, MAX_JUMP, MAX_SKIPPED, EPOCH_MESSAGES, EPOCH_MS, CAP_MLKEM,
  chainStep, SendChain, RecvChain, sealChainMessage, openChainMessage, openWithChain,
  senderKeyInfo, sealSenderKey, openSenderKey, newEphemeral, ephemeralFromBytes,
  sealHandshake, openHandshake, dmDerive, memberSafety, hkdfExpand, hkdf,
  enc, dec, hex, toHex, b64url, randomBytes, identityFromSeeds, newIdentity, deriveRoom, sha256, concat,
  sealEnvelope, openEnvelope, sealHello, openHello, importAes,
} from '../static/js/e2ee.js';
import { KIND, parseHeader, encodeHeader, headerProblem, isDirected } from '../static/js/protocol.js';

/** @param {number} n @param {number} start */
const seq = (n, start) => Uint8Array.from({ length: n }, (_, i) => (start + i) & 255);
const CK = seq(32, 0xc0);

/**
 * The code of the error f throws (rejects with).
 * @param {() => Promise<unknown>} f
 * @returns {Promise<string>}
 */
async function codeOf(f) {
  try {
    await f();
  } catch (e) {
    return /** @type {any} */ (e).code ?? `no code: ${e}`;
  }
  return 'no error';
}

/** mk_i for i = n.. of the chain that starts at ck with index n. */
async function keys(ck, n, count) {
  const out = new Map();
  let c = ck;
  for (let i = n; i < n + count; i++) {
    const s = await chainStep(c);
    out.set(i, toHex(s.mk));
    c = s.next;
  }
  return out;
}

const setup = (async () => {
  const room = await deriveRoom(seq(32, 0));
  const a = await identityFromSeeds(seq(32, 0x10), seq(32, 0x30));
  const b = await identityFromSeeds(seq(32, 0x50), seq(32, 0x70));
  return { room, a, b };
})();

// ------------------------------------------------------------ constants

test('suite-2 constants match section 7', () => {
  assert.equal(SUITE2, 2);
  assert.equal(MAX_JUMP, 2000);
  assert.equal(MAX_SKIPPED, 2000);
  assert.equal(EPOCH_MESSAGES, 100);
  assert.equal(EPOCH_MS, 10 * 60 * 1000);
  assert.equal(CAP_MLKEM, 'mlkem768');
  assert.equal(KIND.SK, 4);
  assert.equal(KIND.DMH, 5);
});

// ------------------------------------------------------------ 7.1 chains

test('chainStep is HMAC(ck, 0x01) and HMAC(ck, 0x02)', async () => {
  const { mk, next } = await chainStep(CK);
  assert.equal(toHex(mk), createHmac('sha256', CK).update(Uint8Array.of(1)).digest('hex'));
  assert.equal(toHex(next), createHmac('sha256', CK).update(Uint8Array.of(2)).digest('hex'));
  await assert.rejects(chainStep(new Uint8Array(31)), /32 bytes/);
});

test('SendChain gives seq 1, 2, 3 with the chain\'s keys and erases', async () => {
  const want = await keys(CK, 1, 3);
  const c = new SendChain(CK);
  assert.equal(c.n, 1);
  for (let i = 1; i <= 3; i++) {
    const { mk, seq: s } = await c.next();
    assert.equal(s, i);
    assert.equal(toHex(mk), want.get(i));
  }
  assert.equal(c.n, 4);
  c.erase();
  assert.equal(c.erased, true);
  assert.equal(await codeOf(() => c.next()), 'erased');
  assert.equal(await codeOf(() => c.snapshot()), 'erased');
  // The constructor copied ck: the caller's bytes are untouched.
  assert.equal(toHex(CK), toHex(seq(32, 0xc0)));
});

test('SendChain: concurrent next() calls never share a key', async () => {
  const c = new SendChain(CK, 7);
  const got = await Promise.all(Array.from({ length: 20 }, () => c.next()));
  assert.deepEqual(got.map((g) => g.seq), Array.from({ length: 20 }, (_, i) => 7 + i));
  const want = await keys(CK, 7, 20);
  for (const g of got) assert.equal(toHex(g.mk), want.get(g.seq));
  assert.equal(new Set(got.map((g) => toHex(g.mk))).size, 20);
});

test('SendChain snapshot -> RecvChain reads the next messages, never earlier ones', async () => {
  const { room, a } = await setup;
  const send = new SendChain(CK);
  const early = [];
  for (let i = 0; i < 5; i++) {
    const { mk, seq: s } = await send.next();
    early.push(await sealChainMessage({
      kind: KIND.MSG, rid: room.rid, sender: 7, epoch: 1, seq: s, mk, edPriv: a.edPriv, data: enc.encode(`early ${s}`),
    }));
  }
  const snap = await send.snapshot();
  assert.equal(snap.n, 6);
  const recv = new RecvChain(snap.ck, snap.n);
  snap.ck.fill(0); // the chain keeps its own copy
  for (let i = 6; i <= 9; i++) {
    const { mk, seq: s } = await send.next();
    const env = await sealChainMessage({
      kind: KIND.MSG, rid: room.rid, sender: 7, epoch: 1, seq: s, mk, edPriv: a.edPriv, data: enc.encode(`late ${s}`),
    });
    const got = await openWithChain(env, recv, { edPub: a.edPub, rid: room.rid });
    assert.equal(dec.decode(got.data), `late ${i}`);
    assert.equal(got.missing, 0);
  }
  for (const env of early) {
    await assert.rejects(openWithChain(env, recv, { edPub: a.edPub }), (e) => e.code === 'replay');
  }
});

test('RecvChain: in order, a gap, late arrivals once each, duplicates rejected', async () => {
  const want = await keys(CK, 1, 10);
  const r = new RecvChain(CK, 1);
  const take = async (/** @type {number} */ s) => {
    const k = await r.keyFor(s);
    assert.equal(toHex(k.mk), want.get(s), `mk of ${s}`);
    k.commit();
    return k.missing;
  };
  assert.equal(await take(1), 0);
  assert.equal(await take(2), 0);
  assert.equal(await take(6), 3); // 3, 4, 5 missing
  assert.equal(r.n, 7);
  assert.equal(r.skipped, 3);
  assert.equal(await take(4), 0);
  assert.equal(await codeOf(() => r.keyFor(4)), 'replay');
  assert.equal(await codeOf(() => r.keyFor(6)), 'replay');
  assert.equal(await codeOf(() => r.keyFor(1)), 'replay');
  assert.equal(await codeOf(() => r.keyFor(0)), 'replay');
  assert.equal(await take(3), 0);
  assert.equal(await take(5), 0);
  assert.equal(r.skipped, 0);
  assert.equal(await take(7), 0);
  // A bigint seq, as parseHeader gives it, works the same.
  const k = await r.keyFor(8n);
  assert.equal(toHex(k.mk), want.get(8));
});

test('RecvChain: nothing changes without commit', async () => {
  const want = await keys(CK, 1, 5);
  const r = new RecvChain(CK, 1);
  const k5 = await r.keyFor(5);
  assert.equal(k5.missing, 4);
  assert.equal(r.n, 1);
  assert.equal(r.skipped, 0);
  // The message did not open: no commit; 1 still opens in order.
  const k1 = await r.keyFor(1);
  assert.equal(toHex(k1.mk), want.get(1));
  assert.equal(k1.missing, 0);
  k1.commit();
  assert.equal(r.n, 2);
  // A skipped key taken but not committed stays available.
  (await r.keyFor(4)).commit();
  const k2 = await r.keyFor(2);
  assert.equal(toHex(k2.mk), want.get(2));
  assert.equal(r.skipped, 2); // 2 and 3
  k2.commit();
  assert.equal(r.skipped, 1);
});

test('RecvChain: the same seq committed twice (a racing replay) is rejected at commit', async () => {
  const r = new RecvChain(CK, 1);
  const one = await r.keyFor(3);
  const two = await r.keyFor(3);
  one.commit();
  assert.throws(() => two.commit(), (e) => e.code === 'replay');
  // A stale commit for a later seq still lands on the right state.
  const x = await r.keyFor(6);
  const y = await r.keyFor(5);
  x.commit(); // 4, 5 skipped; next is 7
  y.commit(); // 5 taken from the skipped keys
  assert.equal(r.n, 7);
  assert.equal(r.skipped, 3); // 1, 2, 4
  assert.equal(await codeOf(() => r.keyFor(5)), 'replay');
});

test('RecvChain: a jump of 2000 is allowed, 2001 is not', async () => {
  const r = new RecvChain(CK, 1);
  assert.equal(await codeOf(() => r.keyFor(1 + MAX_JUMP + 1)), 'jump');
  assert.equal(await codeOf(() => r.keyFor(2n ** 63n)), 'jump');
  const k = await r.keyFor(1 + MAX_JUMP);
  assert.equal(k.missing, MAX_JUMP);
  k.commit();
  assert.equal(r.skipped, MAX_JUMP);
  assert.equal(r.n, MAX_JUMP + 2);
  const want = await keys(CK, 1, 3);
  const k1 = await r.keyFor(1);
  assert.equal(toHex(k1.mk), want.get(1));
});

test('RecvChain: at most 2000 skipped keys are kept, the oldest go first', async () => {
  const r = new RecvChain(CK, 1);
  (await r.keyFor(1501)).commit(); // 1..1500 skipped
  assert.equal(r.skipped, 1500);
  (await r.keyFor(3002)).commit(); // 1502..3001 skipped: 3000 in all, 1000 evicted
  assert.equal(r.skipped, MAX_SKIPPED);
  assert.equal(r.n, 3003);
  for (const s of [1, 500, 1000]) assert.equal(await codeOf(() => r.keyFor(s)), 'replay', `evicted ${s}`);
  assert.equal(await codeOf(() => r.keyFor(1501)), 'replay', 'already read');
  const want = await keys(CK, 1, 1001);
  const k = await r.keyFor(1001);
  assert.equal(toHex(k.mk), want.get(1001), 'the oldest kept');
  k.commit();
  (await r.keyFor(3001)).commit();
  assert.equal(r.skipped, MAX_SKIPPED - 2);
});

test('RecvChain: erase forgets every key', async () => {
  const r = new RecvChain(CK, 1);
  (await r.keyFor(4)).commit();
  const pending = await r.keyFor(5);
  r.erase();
  assert.equal(r.skipped, 0);
  assert.equal(await codeOf(() => r.keyFor(2)), 'erased');
  assert.throws(() => pending.commit(), (e) => e.code === 'erased');
});

// ------------------------------------------------------------ chain messages

test('sealChainMessage / openChainMessage: group and direct, suite 2 header', async () => {
  const { room, a, b } = await setup;
  const { mk } = await chainStep(CK);
  const g = await sealChainMessage({
    kind: KIND.MSG, rid: room.rid, sender: 7, epoch: 3, seq: 1, mk, edPriv: a.edPriv, data: enc.encode('hi all'),
  });
  const h = parseHeader(g);
  assert.deepEqual([h.version, h.suite, h.kind, h.flags, h.sender, h.to, h.epoch, h.seq], [1, 2, 2, 0, 7, 0, 3, 1n]);
  assert.equal(g.length, 40 + 12 + 256 + 16 + 64);
  assert.equal(dec.decode((await openChainMessage(g, { mk, edPub: a.edPub, rid: room.rid })).data), 'hi all');

  const d = await sealChainMessage({
    kind: KIND.DM, rid: room.rid, sender: 7, to: 3, epoch: 0x0badf00d, seq: 9n, mk, edPriv: a.edPriv,
    data: enc.encode('just you'),
  });
  const got = await openChainMessage(d, { mk, edPub: a.edPub, self: 3 });
  assert.equal(dec.decode(got.data), 'just you');
  assert.equal(got.header.epoch, 0x0badf00d);
  await assert.rejects(openChainMessage(d, { mk, edPub: a.edPub, self: 4 }), /another member/);

  // Rejections, each for its own reason.
  const other = (await chainStep(seq(32, 1))).mk;
  await assert.rejects(openChainMessage(g, { mk: other, edPub: a.edPub }), /does not authenticate/);
  await assert.rejects(openChainMessage(g, { mk, edPub: b.edPub }), /bad signature/);
  const rid2 = room.rid.slice(); rid2[0] ^= 1;
  await assert.rejects(openChainMessage(g, { mk, edPub: a.edPub, rid: rid2 }), /another room/);
  for (const i of [2, 30, 39, 45, 100, g.length - 65, g.length - 1]) {
    const t = g.slice(); t[i] ^= 1;
    await assert.rejects(openChainMessage(t, { mk, edPub: a.edPub }), undefined, `flipped byte ${i}`);
  }
  // Suite 1 and suite 2 do not open as each other.
  const s1 = await sealEnvelope({
    kind: KIND.MSG, rid: room.rid, sender: 7, seq: 1, key: room.msg, edPriv: a.edPriv, data: enc.encode('old'),
  });
  await assert.rejects(openChainMessage(s1, { mk, edPub: a.edPub }), /suite 1, want 2/);
  await assert.rejects(openEnvelope(g, { key: await importAes(mk), edPub: a.edPub }), /unknown suite 2/);

  // Bad arguments.
  await assert.rejects(sealChainMessage({ kind: KIND.MSG, rid: room.rid, sender: 7, to: 3, epoch: 1, seq: 1, mk,
    edPriv: a.edPriv, data: enc.encode('x') }), /"to"/);
  await assert.rejects(sealChainMessage({ kind: KIND.DM, rid: room.rid, sender: 7, epoch: 1, seq: 1, mk,
    edPriv: a.edPriv, data: enc.encode('x') }), /"to"/);
  await assert.rejects(sealChainMessage({ kind: KIND.MSG, rid: room.rid, sender: 7, epoch: 0, seq: 1, mk,
    edPriv: a.edPriv, data: enc.encode('x') }), /epoch/);
  await assert.rejects(sealChainMessage({ kind: KIND.MSG, rid: room.rid, sender: 7, epoch: 1, seq: 0, mk,
    edPriv: a.edPriv, data: enc.encode('x') }), /seq/);
  await assert.rejects(sealChainMessage({ kind: KIND.HELLO, rid: room.rid, sender: 7, epoch: 1, seq: 1, mk,
    edPriv: a.edPriv, data: enc.encode('x') }), /not a chain message/);
});

test('openWithChain: a tampered message leaves the chain as it was; a gap is reported', async () => {
  const { room, a } = await setup;
  const send = new SendChain(CK);
  const recv = new RecvChain(CK, 1);
  const envs = [];
  for (let i = 0; i < 4; i++) {
    const { mk, seq: s } = await send.next();
    envs.push(await sealChainMessage({
      kind: KIND.MSG, rid: room.rid, sender: 7, epoch: 1, seq: s, mk, edPriv: a.edPriv, data: enc.encode(`m${s}`),
    }));
  }
  const bad = envs[2].slice(); bad[60] ^= 1;
  await assert.rejects(openWithChain(bad, recv, { edPub: a.edPub }), /bad signature/);
  assert.equal(recv.n, 1);
  // A forged seq (re-signed by someone else) never reaches the chain.
  const forged = envs[0].slice(); forged[39] = 0x50;
  await assert.rejects(openWithChain(forged, recv, { edPub: a.edPub }), /bad signature/);
  assert.equal(recv.n, 1);
  const got = await openWithChain(envs[2], recv, { edPub: a.edPub });
  assert.equal(got.missing, 2);
  assert.equal(dec.decode(got.data), 'm3');
  assert.equal(dec.decode((await openWithChain(envs[0], recv, { edPub: a.edPub })).data), 'm1');
  await assert.rejects(openWithChain(envs[0], recv, { edPub: a.edPub }), (e) => e.code === 'replay');
  assert.equal((await openWithChain(envs[3], recv, { edPub: a.edPub })).missing, 0);
  assert.equal(dec.decode((await openWithChain(envs[1], recv, { edPub: a.edPub })).data), 'm2');
  assert.equal(recv.skipped, 0);
});

// ------------------------------------------------------------ 7.2 sender keys

test('senderKeyInfo is "veil/sk" || rid || u32 sender || u32 epoch || u32 to', () => {
  const rid = seq(16, 0xa0);
  assert.equal(toHex(senderKeyInfo(rid, 7, 0x01020304, 0xffffffff)),
    toHex(enc.encode('veil/sk')) + toHex(rid) + '00000007' + '01020304' + 'ffffffff');
});

test('sealSenderKey / openSenderKey round trip, stable with a fixed ephemeral', async () => {
  const { room, a, b } = await setup;
  const o = { rid: room.rid, sender: 7, to: 3, epoch: 4, seq: 9, peerXPub: b.xPub, edPriv: a.edPriv, ck: CK, n: 57 };
  const env = await sealSenderKey(o);
  assert.equal(env.length, 40 + 32 + 40 + 16 + 64);
  const h = parseHeader(env);
  assert.deepEqual([h.suite, h.kind, h.sender, h.to, h.epoch, h.seq], [2, 4, 7, 3, 4, 9n]);
  const got = await openSenderKey(env, { xPriv: b.xPriv, edPub: a.edPub, rid: room.rid, self: 3 });
  assert.equal(toHex(got.ck), toHex(CK));
  assert.equal(got.n, 57);
  // With the own public key given, no scalar multiplication is needed; same result.
  assert.equal((await openSenderKey(env, { xPriv: b.xPriv, xPub: b.xPub, edPub: a.edPub })).n, 57);

  const eph = seq(32, 0x99);
  const one = await sealSenderKey({ ...o, ephemeralPriv: eph });
  const two = await sealSenderKey({ ...o, ephemeralPriv: eph });
  assert.equal(toHex(one), toHex(two));
  assert.equal(toHex(one.subarray(40, 72)), toHex((await ephemeralFromBytes(eph)).pub));
  assert.notEqual(toHex(env), toHex(one));

  // Only the named recipient opens it, only with the sender's signature,
  // and the header cannot be moved to another epoch, sender or recipient.
  await assert.rejects(openSenderKey(env, { xPriv: a.xPriv, edPub: a.edPub }), /does not authenticate/);
  await assert.rejects(openSenderKey(env, { xPriv: b.xPriv, edPub: b.edPub }), /bad signature/);
  await assert.rejects(openSenderKey(env, { xPriv: b.xPriv, edPub: a.edPub, self: 4 }), /another member/);
  for (const i of [25, 31, 35, 45, 100, env.length - 1]) {
    const t = env.slice(); t[i] ^= 1;
    await assert.rejects(openSenderKey(t, { xPriv: b.xPriv, edPub: a.edPub }), /bad signature/, `flipped byte ${i}`);
  }
  await assert.rejects(openSenderKey(env.subarray(0, env.length - 1), { xPriv: b.xPriv, edPub: a.edPub }), /bytes/);
  // A chain message is not a sender key.
  const m = await sealChainMessage({ kind: KIND.MSG, rid: room.rid, sender: 7, epoch: 1, seq: 1, mk: CK,
    edPriv: a.edPriv, data: enc.encode('x') });
  await assert.rejects(openSenderKey(m, { xPriv: b.xPriv, edPub: a.edPub }), /kind 2/);
  await assert.rejects(sealSenderKey({ ...o, to: 0 }), /"to"/);
  await assert.rejects(sealSenderKey({ ...o, n: 0 }), /n must be/);
});

test('a sender key re-signed over another epoch does not open (HPKE info binds it)', async () => {
  const { room, a, b } = await setup;
  const env = await sealSenderKey({ rid: room.rid, sender: 7, to: 3, epoch: 4, seq: 9, peerXPub: b.xPub,
    edPriv: a.edPriv, ck: CK, n: 1 });
  const body = env.slice(0, env.length - 64);
  body[31] = 5; // epoch 4 -> 5, then signed by the real sender
  const sig = new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, a.edPriv, body));
  await assert.rejects(openSenderKey(concat(body, sig), { xPriv: b.xPriv, edPub: a.edPub }), /does not authenticate/);
});

// ------------------------------------------------------------ 7.3 DM

test('handshake: offer and accept round trip under kRos; rules on kem', async () => {
  const { room, a, b } = await setup;
  const eA = await newEphemeral();
  const offer = await sealHandshake({ rid: room.rid, sender: 7, to: 3, sid: 0x01020304, seq: 4, roster: room.roster,
    edPriv: a.edPriv, body: { t: 'offer', e: b64url(eA.pub) } });
  const h = parseHeader(offer);
  assert.deepEqual([h.suite, h.kind, h.to, h.epoch, h.seq], [2, 5, 3, 0x01020304, 4n]);
  const got = await openHandshake(offer, { roster: room.roster, edPub: a.edPub, rid: room.rid, self: 3, kem: false });
  assert.deepEqual(got.body, { t: 'offer', e: b64url(eA.pub) });
  await assert.rejects(openHandshake(offer, { roster: room.roster, edPub: b.edPub }), /bad signature/);
  await assert.rejects(openHandshake(offer, { roster: room.roster, edPub: a.edPub, kem: true }), /"kem" missing/);
  const other = await deriveRoom(seq(32, 1));
  await assert.rejects(openHandshake(offer, { roster: other.roster, edPub: a.edPub }), /does not authenticate/);

  const seal = (/** @type {object} */ body) => sealHandshake({ rid: room.rid, sender: 3, to: 7, sid: 9, seq: 1,
    roster: room.roster, edPriv: b.edPriv, body });
  const open = async (/** @type {object} */ body, /** @type {boolean|undefined} */ kem) =>
    openHandshake(await seal(body), { roster: room.roster, edPub: b.edPub, kem });
  const e = b64url(seq(32, 5));
  const ek = b64url(seq(1184, 3));
  const ct = b64url(seq(1088, 5));
  assert.deepEqual((await open({ t: 'accept', e, kemct: ct }, true)).body, { t: 'accept', e, kemct: ct });
  assert.deepEqual((await open({ t: 'offer', e, kem: ek })).body.kem, ek);
  await assert.rejects(open({ t: 'offer', e, kem: ek }, false), /"kem" present/);
  await assert.rejects(open({ t: 'offer', e, kemct: ct }), /an offer with "kemct"/);
  await assert.rejects(open({ t: 'accept', e, kem: ek }), /an accept with "kem"/);
  await assert.rejects(open({ t: 'offer', e, kem: b64url(seq(1183, 3)) }), /1184 bytes/);
  await assert.rejects(open({ t: 'hello', e }), /"t"/);
  await assert.rejects(open({ t: 'offer', e: b64url(seq(31, 0)) }), /32 bytes/);
  await assert.rejects(open({ t: 'offer' }), /base64url/);
  await assert.rejects(sealHandshake({ rid: room.rid, sender: 3, to: 7, sid: 0, seq: 1, roster: room.roster,
    edPriv: b.edPriv, body: {} }), /sid/);
});

/** Both sides of one DM derivation. */
async function bothSides(o = {}) {
  const { room, a, b } = await setup;
  const eA = await newEphemeral();
  const eB = await newEphemeral();
  const common = { rid: room.rid, a: 7, b: 3, sid: 0x01020304, edA: a.edPub, xA: a.xPub, edB: b.edPub, xB: b.xPub,
    eA: eA.pub, eB: eB.pub, ...o };
  const ka = await dmDerive({ ...common, role: 'a', myEphPriv: eA.priv, myXPriv: a.xPriv });
  const kb = await dmDerive({ ...common, role: 'b', myEphPriv: eB.priv, myXPriv: b.xPriv });
  return { ka, kb, common, eA, eB, a, b };
}

test('dmDerive: both sides agree; safety code is 12 digits in groups of 4', async () => {
  const { ka, kb, common } = await bothSides();
  assert.equal(toHex(ka.sendCK), toHex(kb.recvCK));
  assert.equal(toHex(ka.recvCK), toHex(kb.sendCK));
  assert.notEqual(toHex(ka.sendCK), toHex(ka.recvCK));
  assert.equal(ka.safety, kb.safety);
  assert.match(ka.safety, /^\d{4} \d{4} \d{4}$/);
  assert.equal(toHex(ka.th), toHex(kb.th));
  // th is the transcript hash of section 7.3, and the safety code comes from it.
  const u32 = (/** @type {number} */ n) => Uint8Array.of(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
  const th = await sha256(concat(enc.encode('veil/dm'), common.rid, u32(7), u32(3), u32(0x01020304),
    common.edA, common.xA, common.edB, common.xB, common.eA, common.eB));
  assert.equal(toHex(ka.th), toHex(th));
  const s = await sha256(concat(enc.encode('veil/dm-safety'), th));
  const digits = (new DataView(s.buffer).getBigUint64(0) % 10n ** 12n).toString().padStart(12, '0');
  assert.equal(ka.safety.replaceAll(' ', ''), digits);
});

test('dmDerive: ML-KEM parts change th and keys; they come all three or none', async () => {
  const kem = seq(1184, 3);
  const kemct = seq(1088, 5);
  const ss = seq(32, 0xe0);
  const { ka, kb } = await bothSides({ kem, kemct, ss });
  assert.equal(toHex(ka.sendCK), toHex(kb.recvCK));
  assert.equal(ka.safety, kb.safety);
  const { common, eA, a } = await bothSides({ kem, kemct, ss });
  await assert.rejects(dmDerive({ ...common, ss: undefined, role: 'a', myEphPriv: eA.priv, myXPriv: a.xPriv }),
    /together/);
  await assert.rejects(dmDerive({ ...common, kemct: undefined, role: 'a', myEphPriv: eA.priv, myXPriv: a.xPriv }),
    /together/);
  const plain = await dmDerive({ ...common, kem: undefined, kemct: undefined, ss: undefined, role: 'a',
    myEphPriv: eA.priv, myXPriv: a.xPriv });
  const hybrid = await dmDerive({ ...common, role: 'a', myEphPriv: eA.priv, myXPriv: a.xPriv });
  assert.notEqual(toHex(plain.th), toHex(hybrid.th));
  assert.notEqual(toHex(plain.sendCK), toHex(hybrid.sendCK));
  assert.notEqual(plain.safety, hybrid.safety);
});

// RFC 7748 section 6.1: "check for the all-zero value and abort if so".
// Points of small order on curve25519 (and their non-canonical twins), each
// giving the all-zero output for every private scalar.
const LOW_ORDER = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bc a3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157'.replace(' ', ''),
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
];

test('dmDerive rejects a low-order key in any position (RFC 7748 all-zero shared secret)', async () => {
  const { common, eA, eB, a, b } = await bothSides();
  for (const p of LOW_ORDER) {
    const bad = hex(p);
    await assert.rejects(dmDerive({ ...common, eB: bad, role: 'a', myEphPriv: eA.priv, myXPriv: a.xPriv }),
      /all-zero/, `eB = ${p}`);
    await assert.rejects(dmDerive({ ...common, xB: bad, role: 'a', myEphPriv: eA.priv, myXPriv: a.xPriv }),
      /all-zero/, `xB = ${p}`);
    await assert.rejects(dmDerive({ ...common, eA: bad, role: 'b', myEphPriv: eB.priv, myXPriv: b.xPriv }),
      /all-zero/, `eA = ${p}`);
    await assert.rejects(dmDerive({ ...common, xA: bad, role: 'b', myEphPriv: eB.priv, myXPriv: b.xPriv }),
      /all-zero/, `xA = ${p}`);
  }
});

test('a DM session end to end: handshake, derive, chains both ways', async () => {
  const { room, a, b } = await setup;
  const sid = 0x51d;
  const eA = await newEphemeral();
  const offer = await sealHandshake({ rid: room.rid, sender: 7, to: 3, sid, seq: 2, roster: room.roster,
    edPriv: a.edPriv, body: { t: 'offer', e: b64url(eA.pub) } });
  const got = await openHandshake(offer, { roster: room.roster, edPub: a.edPub, self: 3, kem: false });
  const eB = await newEphemeral();
  const accept = await sealHandshake({ rid: room.rid, sender: 3, to: 7, sid: got.header.epoch, seq: 5,
    roster: room.roster, edPriv: b.edPriv, body: { t: 'accept', e: b64url(eB.pub) } });
  const back = await openHandshake(accept, { roster: room.roster, edPub: b.edPub, self: 7, kem: false });
  const common = { rid: room.rid, a: 7, b: 3, sid, edA: a.edPub, xA: a.xPub, edB: b.edPub, xB: b.xPub };
  const kb = await dmDerive({ ...common, role: 'b', eA: hex(toHex(new Uint8Array(Buffer.from(got.body.e, 'base64url')))),
    eB: eB.pub, myEphPriv: eB.priv, myXPriv: b.xPriv });
  const ka = await dmDerive({ ...common, role: 'a', eA: eA.pub, eB: new Uint8Array(Buffer.from(back.body.e, 'base64url')),
    myEphPriv: eA.priv, myXPriv: a.xPriv });
  assert.equal(ka.safety, kb.safety);
  const aSend = new SendChain(ka.sendCK);
  const bRecv = new RecvChain(kb.recvCK, 1);
  const bSend = new SendChain(kb.sendCK);
  const aRecv = new RecvChain(ka.recvCK, 1);
  const m1 = await aSend.next();
  const d1 = await sealChainMessage({ kind: KIND.DM, rid: room.rid, sender: 7, to: 3, epoch: sid, seq: m1.seq,
    mk: m1.mk, edPriv: a.edPriv, data: enc.encode('hello b') });
  assert.equal(dec.decode((await openWithChain(d1, bRecv, { edPub: a.edPub, self: 3 })).data), 'hello b');
  const m2 = await bSend.next();
  const d2 = await sealChainMessage({ kind: KIND.DM, rid: room.rid, sender: 3, to: 7, epoch: sid, seq: m2.seq,
    mk: m2.mk, edPriv: b.edPriv, data: enc.encode('hello a') });
  assert.equal(dec.decode((await openWithChain(d2, aRecv, { edPub: b.edPub, self: 7 })).data), 'hello a');
  // A's own direction key does not open B's messages.
  await assert.rejects(openWithChain(d2, new RecvChain(ka.sendCK, 1), { edPub: b.edPub }), /does not authenticate/);
});

test('memberSafety is the same from either side and follows section 7.3', async () => {
  const a = await newIdentity();
  const b = await newIdentity();
  const ab = await memberSafety(a.edPub, a.xPub, b.edPub, b.xPub);
  assert.equal(await memberSafety(b.edPub, b.xPub, a.edPub, a.xPub), ab);
  assert.match(ab, /^\d{4} \d{4} \d{4}$/);
  const ka = concat(a.edPub, a.xPub);
  const kb = concat(b.edPub, b.xPub);
  const [lo, hi] = Buffer.compare(ka, kb) <= 0 ? [ka, kb] : [kb, ka];
  const s = await sha256(concat(enc.encode('veil/member-safety'), lo, hi));
  const digits = (new DataView(s.buffer).getBigUint64(0) % 10n ** 12n).toString().padStart(12, '0');
  assert.equal(ab, `${digits.slice(0, 4)} ${digits.slice(4, 8)} ${digits.slice(8)}`);
  const c = await newIdentity();
  assert.notEqual(await memberSafety(a.edPub, a.xPub, c.edPub, c.xPub), ab);
});

test('hkdfExpand is HKDF-Expand: hkdf(ikm, salt, info) = Expand(Extract(salt, ikm), info)', async () => {
  const ikm = randomBytes(40);
  const salt = randomBytes(32);
  const info = enc.encode('veil/dm/a2b');
  const prk = new Uint8Array(createHmac('sha256', salt).update(ikm).digest());
  for (const len of [1, 32, 33, 64, 100]) {
    assert.equal(toHex(await hkdfExpand(prk, info, len)), toHex(await hkdf(ikm, salt, info, len)), `L = ${len}`);
  }
});

// ------------------------------------------------------------ hellos and headers

test('hello caps: announced when given, [] when absent, rejected when malformed', async () => {
  const { room, a } = await setup;
  const plain = await sealHello({ rid: room.rid, sender: 7, seq: 1, roster: room.roster, identity: a, alias: 'otter' });
  assert.deepEqual((await openHello(plain, room.roster)).caps, []);
  const none = await sealHello({ rid: room.rid, sender: 7, seq: 1, roster: room.roster, identity: a, alias: 'otter',
    caps: [], nonce: seq(12, 0) });
  const none2 = await sealHello({ rid: room.rid, sender: 7, seq: 1, roster: room.roster, identity: a, alias: 'otter',
    nonce: seq(12, 0) });
  assert.equal(toHex(none), toHex(none2), 'empty caps are not written');
  const withCaps = await sealHello({ rid: room.rid, sender: 7, seq: 1, roster: room.roster, identity: a,
    alias: 'otter', caps: [CAP_MLKEM] });
  assert.deepEqual((await openHello(withCaps, room.roster)).caps, ['mlkem768']);
  // A hand-made hello with a bad "caps".
  for (const caps of ['mlkem768', [1], { a: 1 }]) {
    const data = enc.encode(JSON.stringify({ alias: 'x', x: b64url(a.xPub), e: b64url(a.edPub), caps }));
    const env = await sealEnvelope({ kind: KIND.HELLO, rid: room.rid, sender: 7, seq: 1, key: room.roster,
      edPriv: a.edPriv, data });
    await assert.rejects(openHello(env, room.roster), /caps/, JSON.stringify(caps));
  }
});

test('protocol: kinds 4 and 5 are directed, suite 2 headers encode and judge', () => {
  const rid = seq(16, 0xa0);
  assert.deepEqual([1, 2, 3, 4, 5].map(isDirected), [false, false, true, true, true]);
  for (const kind of [KIND.SK, KIND.DMH]) {
    const h = encodeHeader({ kind, suite: SUITE2, rid, sender: 7, to: 3, epoch: 2, seq: 1 });
    assert.equal(toHex(h.subarray(0, 4)), `01020${kind}00`);
    const env = new Uint8Array(132); env.set(h);
    const p = parseHeader(env);
    assert.equal(p.kind, kind);
    assert.equal(headerProblem(p), '');
    assert.throws(() => encodeHeader({ kind, suite: SUITE2, rid, sender: 7, epoch: 2, seq: 1 }), /"to"/);
    assert.match(headerProblem({ ...p, to: 0 }), /without a recipient/);
  }
  assert.throws(() => encodeHeader({ kind: KIND.MSG, suite: 3, rid, sender: 7, seq: 1 }), /suite/);
  assert.throws(() => encodeHeader({ kind: 6, rid, sender: 7, to: 1, seq: 1 }), /kind/);
  assert.throws(() => encodeHeader({ kind: KIND.MSG, rid, sender: 7, to: 1, seq: 1 }), /"to"/);
  const g = parseHeader(Uint8Array.of(...encodeHeader({ kind: KIND.MSG, rid, sender: 7, seq: 1 }), ...new Uint8Array(92)));
  assert.equal(headerProblem(g), '');
  assert.match(headerProblem({ ...g, to: 4 }), /addressed to 4/);
  assert.match(headerProblem({ ...g, kind: 6 }), /unknown kind/);
  assert.match(headerProblem({ ...g, suite: 3 }), /unknown suite/);
  assert.match(headerProblem({ ...g, flags: 1 }), /flags/);
  assert.match(headerProblem({ ...g, sender: 0 }), /sender 0/);
  assert.match(headerProblem({ ...g, version: 2 }), /version/);
});
