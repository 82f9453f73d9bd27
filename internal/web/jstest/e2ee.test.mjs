import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  enc, dec, hex, toHex, b64url, fromB64url, randomBytes, sha256, hkdf, parseLink, makeLink,
  deriveRoom, newIdentity, identityFromSeeds, fingerprint, pad, unpad, sealEnvelope, openEnvelope,
  dmKey, sealMeta, openMeta, sealHello, openHello, normalizeAlias, randomAlias, WORDS,
  importAes, exportRaw, equalBytes,
} from '../static/js/e2ee.js';
import { KIND, parseHeader } from '../static/js/protocol.js';

const subtle = globalThis.crypto.subtle;

// ------------------------------------------------------------ RFC vectors

test('HKDF-SHA256: RFC 5869 test case 1', async () => {
  const okm = await hkdf(hex('0b'.repeat(22)), hex('000102030405060708090a0b0c'), hex('f0f1f2f3f4f5f6f7f8f9'), 42);
  assert.equal(toHex(okm),
    '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
});

test('HKDF-SHA256: RFC 5869 test case 3 (empty salt means zeros)', async () => {
  const okm = await hkdf(hex('0b'.repeat(22)), new Uint8Array(0), new Uint8Array(0), 42);
  assert.equal(toHex(okm),
    '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8');
  const zeros = await hkdf(hex('0b'.repeat(22)), new Uint8Array(32), new Uint8Array(0), 42);
  assert.equal(toHex(zeros), toHex(okm));
});

test('Ed25519: RFC 8032 test 1 through identityFromSeeds', async () => {
  const id = await identityFromSeeds(
    hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'), new Uint8Array(32).fill(1));
  assert.equal(toHex(id.edPub), 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
  const sig = new Uint8Array(await subtle.sign({ name: 'Ed25519' }, id.edPriv, new Uint8Array(0)));
  assert.equal(toHex(sig),
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155' +
    '5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b');
});

test('X25519: RFC 7748 section 6.1 through identityFromSeeds and dmKey', async () => {
  const zero = new Uint8Array(32);
  const alice = await identityFromSeeds(zero, hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'));
  const bob = await identityFromSeeds(zero, hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'));
  assert.equal(toHex(alice.xPub), '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
  assert.equal(toHex(bob.xPub), 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
  const shared = new Uint8Array(await subtle.deriveBits(
    { name: 'X25519', public: await subtle.importKey('raw', bob.xPub, { name: 'X25519' }, true, []) }, alice.xPriv, 256));
  assert.equal(toHex(shared), '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
  // dmKey is HKDF over that shared secret.
  const rid = hex('bce967d4466591176d49646441b4626f');
  const info = Uint8Array.of(...enc.encode('veil/dm'), 0, 0, 0, 3, 0, 0, 0, 7);
  const want = await hkdf(shared, rid, info, 32);
  assert.equal(toHex(await exportRaw(await dmKey(alice.xPriv, bob.xPub, rid, 7, 3))), toHex(want));
  assert.equal(toHex(await exportRaw(await dmKey(bob.xPriv, alice.xPub, rid, 3, 7))), toHex(want));
});

test('SHA-256 of "abc"', async () => {
  assert.equal(toHex(await sha256(enc.encode('abc'))),
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

// ------------------------------------------------------------ bytes

test('b64url matches Buffer for every length 0..70, and round trips', () => {
  for (let n = 0; n <= 70; n++) {
    const b = randomBytes(n);
    const s = b64url(b);
    assert.equal(s, Buffer.from(b).toString('base64url'), `length ${n}`);
    assert.deepEqual(fromB64url(s), b);
  }
});

test('fromB64url rejects bad input', () => {
  for (const s of ['A', 'AAAAA', 'AA==', 'AB+/', 'AB/C', 'A B=', 'AAé', 'AB', 'AAB', '****']) {
    assert.throws(() => fromB64url(s), `fromB64url(${JSON.stringify(s)})`);
  }
  assert.deepEqual(fromB64url('AA'), Uint8Array.of(0));
  assert.deepEqual(fromB64url('AAA'), Uint8Array.of(0, 0));
  assert.deepEqual(fromB64url(''), new Uint8Array(0));
});

test('randomBytes gives n fresh bytes, also past 64 KiB', () => {
  assert.equal(randomBytes(0).length, 0);
  assert.equal(randomBytes(70000).length, 70000);
  assert.notDeepEqual(randomBytes(32), randomBytes(32));
});

test('equalBytes', () => {
  assert.ok(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 2)));
  assert.ok(!equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 3)));
  assert.ok(!equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1)));
});

// ------------------------------------------------------------ links

const S = Uint8Array.from({ length: 32 }, (_, i) => i);
const S64 = b64url(S);

test('makeLink and parseLink round trip', () => {
  for (const pw of [false, true]) {
    const link = makeLink('https://veil.example', S, pw);
    assert.equal(link, `https://veil.example/#${pw ? '1p' : '1'}.${S64}`);
    assert.equal(makeLink('https://veil.example/', S, pw), link);
    const frag = link.slice(link.indexOf('#'));
    for (const s of [link, frag, frag.slice(1), ` ${link}\n`]) {
      const got = parseLink(s);
      assert.ok(got, s);
      assert.deepEqual(got.secret, S);
      assert.equal(got.hasPassword, pw);
    }
  }
  assert.throws(() => makeLink('https://veil.example', S.subarray(1), false));
});

test('parseLink rejects bad versions and wrong lengths', () => {
  const bad = [
    '', '#', '#.', `#${S64}`, `#.${S64}`, `#0.${S64}`, `#2.${S64}`, `#1P.${S64}`, `#p.${S64}`, `#1pp.${S64}`,
    `#11.${S64}`, `# 1.${S64}`, `#v1.${S64}`,
    `#1.${b64url(S.subarray(0, 31))}`, `#1.${b64url(new Uint8Array(33))}`, `#1p.${b64url(new Uint8Array(16))}`,
    `#1.${S64}=`, `#1.${S64.slice(0, -1)}`, `#1.${S64}A`, `#1.${S64.slice(0, -1)}+`, `#1.${S64}.x`,
    'https://veil.example/', 'https://veil.example/#',
  ];
  for (const s of bad) assert.equal(parseLink(s), null, `parseLink(${JSON.stringify(s)})`);
  assert.equal(parseLink(undefined), null);
});

// ------------------------------------------------------------ key schedule

test('deriveRoom: no password, empty password, and a password differ as they should', async () => {
  const a = await deriveRoom(S);
  const b = await deriveRoom(S, '');
  assert.deepEqual(a.rid, b.rid);
  assert.deepEqual(a.join, b.join);
  assert.deepEqual(await exportRaw(a.msg), await exportRaw(b.msg));
  assert.deepEqual(a.verifier, await sha256(a.join));
  assert.equal(a.rid.length, 16);
  assert.equal(a.join.length, 32);

  const c = await deriveRoom(S, 'pass');
  assert.deepEqual(c.rid, a.rid, 'the rid does not depend on the password');
  assert.notDeepEqual(c.join, a.join);
  assert.notDeepEqual(await exportRaw(c.roster), await exportRaw(a.roster));
  // NFKC: full-width letters are the same password.
  const d = await deriveRoom(S, 'ｐａｓｓ');
  assert.deepEqual(d.join, c.join);
  await assert.rejects(deriveRoom(S.subarray(1)));
});

// ------------------------------------------------------------ identity

test('newIdentity: 32-byte keys, fingerprints in four groups', async () => {
  const id = await newIdentity();
  assert.equal(id.edPub.length, 32);
  assert.equal(id.xPub.length, 32);
  assert.equal(id.edPriv.extractable, false);
  assert.equal(id.xPriv.extractable, false);
  const fp = await fingerprint(id.edPub, id.xPub);
  assert.match(fp, /^[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}$/);
  const h = await sha256(Uint8Array.of(...id.edPub, ...id.xPub));
  assert.equal(fp.replaceAll('-', ''), toHex(h.subarray(0, 8)));
});

// ------------------------------------------------------------ padding

test('pad: buckets and limits', () => {
  const cases = [[0, 256], [252, 256], [253, 1024], [1020, 1024], [1021, 4096], [4092, 4096], [4093, 16384],
    [16380, 16384], [16381, 65536], [65532, 65536]];
  for (const [n, size] of cases) {
    const data = randomBytes(n);
    const p = pad(data);
    assert.equal(p.length, size, `pad(${n})`);
    assert.equal(new DataView(p.buffer).getUint32(0), n);
    assert.ok(p.subarray(4 + n).every((b) => b === 0));
    assert.deepEqual(unpad(p), data);
  }
  assert.throws(() => pad(new Uint8Array(65533)), /over the limit/);
});

test('unpad rejects bad lengths and non-zero padding', () => {
  assert.throws(() => unpad(new Uint8Array(3)), /not a bucket size/);
  assert.throws(() => unpad(new Uint8Array(300)), /not a bucket size/);
  const p = pad(enc.encode('hi'));
  const long = p.slice();
  new DataView(long.buffer).setUint32(0, 253);
  assert.throws(() => unpad(long), /does not fit/);
  const huge = p.slice();
  new DataView(huge.buffer).setUint32(0, 0xffffffff);
  assert.throws(() => unpad(huge), /does not fit/);
  const dirty = p.slice();
  dirty[255] = 1;
  assert.throws(() => unpad(dirty), /padding/);
  const exact = p.slice();
  new DataView(exact.buffer).setUint32(0, 252);
  assert.equal(unpad(exact).length, 252);
});

// ------------------------------------------------------------ envelopes

async function setup() {
  const room = await deriveRoom(randomBytes(32));
  const alice = await newIdentity();
  const bob = await newIdentity();
  return { room, alice, bob };
}

test('group message: seal, open, header', async () => {
  const { room, alice } = await setup();
  const data = enc.encode(JSON.stringify({ id: '00', body: 'hello' }));
  const env = await sealEnvelope({ kind: KIND.MSG, rid: room.rid, sender: 5, seq: 1, key: room.msg, edPriv: alice.edPriv, data });
  assert.equal(env.length, 40 + 12 + 256 + 16 + 64);
  const got = await openEnvelope(env, { key: room.msg, edPub: alice.edPub, rid: room.rid });
  assert.deepEqual(got.data, data);
  assert.deepEqual(got.header, { version: 1, suite: 1, kind: 2, flags: 0, rid: room.rid, sender: 5, to: 0, epoch: 0, seq: 1n });
  // A random nonce: the same message seals differently twice.
  const again = await sealEnvelope({ kind: KIND.MSG, rid: room.rid, sender: 5, seq: 1, key: room.msg, edPriv: alice.edPriv, data });
  assert.notDeepEqual(again.subarray(40, 52), env.subarray(40, 52));
});

test('openEnvelope rejects tampering anywhere, wrong keys, other rooms', async () => {
  const { room, alice, bob } = await setup();
  const env = await sealEnvelope({ kind: KIND.MSG, rid: room.rid, sender: 5, seq: 9n, key: room.msg, edPriv: alice.edPriv, data: enc.encode('x') });
  for (const i of [0, 3, 4, 20, 39, 40, 51, 52, 200, env.length - 65, env.length - 64, env.length - 1]) {
    const t = env.slice();
    t[i] ^= 0x01;
    await assert.rejects(openEnvelope(t, { key: room.msg, edPub: alice.edPub }), Error, `bit flipped at ${i}`);
  }
  await assert.rejects(openEnvelope(env, { key: room.msg, edPub: bob.edPub }), /bad signature/);
  await assert.rejects(openEnvelope(env, { key: room.roster, edPub: alice.edPub }), /does not authenticate/);
  const other = room.rid.slice();
  other[15] ^= 1;
  await assert.rejects(openEnvelope(env, { key: room.msg, edPub: alice.edPub, rid: other }), /another room/);
  await assert.rejects(openEnvelope(env.subarray(0, 131), { key: room.msg, edPub: alice.edPub }), /too short/);
  await assert.rejects(openEnvelope(env.subarray(0, env.length - 1), { key: room.msg, edPub: alice.edPub }));
});

test('openEnvelope rejects an unknown version, suite or flags even when signed', async () => {
  const { room, alice } = await setup();
  const env = await sealEnvelope({ kind: KIND.MSG, rid: room.rid, sender: 5, seq: 1, key: room.msg, edPriv: alice.edPriv, data: enc.encode('x') });
  for (const [i, v, re] of [[0, 2, /version/], [1, 2, /suite/], [3, 1, /flags/], [2, 4, /kind/]]) {
    const t = env.slice(0, env.length - 64);
    t[i] = v;
    const sig = new Uint8Array(await subtle.sign({ name: 'Ed25519' }, alice.edPriv, t));
    await assert.rejects(openEnvelope(Uint8Array.of(...t, ...sig), { key: room.msg, edPub: alice.edPub }), re);
  }
});

test('direct message: both ends derive one key; to is checked', async () => {
  const { room, alice, bob } = await setup();
  const kA = await dmKey(alice.xPriv, bob.xPub, room.rid, 5, 6);
  const kB = await dmKey(bob.xPriv, alice.xPub, room.rid, 6, 5);
  assert.deepEqual(await exportRaw(kA), await exportRaw(kB));
  const otherRoom = await dmKey(alice.xPriv, bob.xPub, randomBytes(16), 5, 6);
  assert.notDeepEqual(await exportRaw(otherRoom), await exportRaw(kA));
  const otherPair = await dmKey(alice.xPriv, bob.xPub, room.rid, 5, 7);
  assert.notDeepEqual(await exportRaw(otherPair), await exportRaw(kA));

  const env = await sealEnvelope({ kind: KIND.DM, rid: room.rid, sender: 5, to: 6, seq: 2, key: kA, edPriv: alice.edPriv, data: enc.encode('psst') });
  const got = await openEnvelope(env, { key: kB, edPub: alice.edPub, self: 6 });
  assert.equal(dec.decode(got.data), 'psst');
  assert.equal(got.header.to, 6);
  await assert.rejects(openEnvelope(env, { key: kB, edPub: alice.edPub, self: 7 }), /another member/);
  await assert.rejects(sealEnvelope({ kind: KIND.DM, rid: room.rid, sender: 5, seq: 2, key: kA, edPriv: alice.edPriv, data: new Uint8Array(0) }), /to/);
  await assert.rejects(sealEnvelope({ kind: KIND.MSG, rid: room.rid, sender: 5, to: 6, seq: 2, key: kA, edPriv: alice.edPriv, data: new Uint8Array(0) }), /to/);
});

test('dmKey rejects low-order peer keys and wrong sizes', async () => {
  const { room, alice } = await setup();
  const one = new Uint8Array(32);
  one[0] = 1;
  for (const peer of [new Uint8Array(32), one]) {
    await assert.rejects(dmKey(alice.xPriv, peer, room.rid, 1, 2), /all-zero/);
  }
  await assert.rejects(dmKey(alice.xPriv, new Uint8Array(31), room.rid, 1, 2), /32 bytes/);
});

test('sealEnvelope: largest message fits the largest frame; one byte more throws', async () => {
  const { room, alice } = await setup();
  const env = await sealEnvelope({ kind: KIND.MSG, rid: room.rid, sender: 1, seq: 1, key: room.msg, edPriv: alice.edPriv, data: new Uint8Array(65532) });
  assert.equal(1 + env.length, 65669);
  await assert.rejects(sealEnvelope({ kind: KIND.MSG, rid: room.rid, sender: 1, seq: 1, key: room.msg, edPriv: alice.edPriv, data: new Uint8Array(65533) }));
});

// ------------------------------------------------------------ meta

test('meta: seal, open, limits', async () => {
  const { room } = await setup();
  const sealed = await sealMeta(room.roster, room.rid, { name: 'book club' });
  assert.equal(sealed.length, 12 + enc.encode('{"name":"book club"}').length + 16);
  assert.deepEqual(await openMeta(room.roster, room.rid, sealed), { name: 'book club' });
  await assert.rejects(openMeta(room.msg, room.rid, sealed), /authenticate/);
  await assert.rejects(openMeta(room.roster, room.rid, sealed.subarray(0, 27)), /short/);
  await assert.rejects(sealMeta(room.roster, room.rid, { name: 'x'.repeat(1000) }), /at most 1024/);
  const arr = await sealMeta(room.roster, room.rid, ['not', 'an', 'object']);
  await assert.rejects(openMeta(room.roster, room.rid, arr), /object/);
});

// ------------------------------------------------------------ hello

test('hello: seal and open, alias normalised', async () => {
  const { room, alice } = await setup();
  const env = await sealHello({ rid: room.rid, sender: 11, seq: 1, roster: room.roster, identity: alice, alias: '  ｑｕｉｅｔ\u200b otter ' });
  const h = parseHeader(env);
  assert.equal(h.kind, KIND.HELLO);
  assert.equal(h.sender, 11);
  assert.ok(env.length <= 1024);
  const got = await openHello(env, room.roster, { sender: 11, rid: room.rid });
  assert.equal(got.alias, 'quiet otter');
  assert.deepEqual(got.edPub, alice.edPub);
  assert.deepEqual(got.xPub, alice.xPub);
  await assert.rejects(openHello(env, room.roster, { sender: 12 }), /sender/);
  await assert.rejects(openHello(env, room.msg), /authenticate/);
  await assert.rejects(openHello(env, room.roster, { rid: randomBytes(16) }), /another room/);
  // An empty alias becomes a random one.
  const anon = await openHello(
    await sealHello({ rid: room.rid, sender: 11, seq: 2, roster: room.roster, identity: alice, alias: '\u200b' }), room.roster);
  assert.match(anon.alias, /^[a-z]+-[a-z]+$/);
});

test('hello: the longest alias still fits the relay limit', async () => {
  const { room, alice } = await setup();
  for (const alias of ['𝕏'.repeat(40), '"'.repeat(40), '\\'.repeat(40), '<&>'.repeat(20)]) {
    const env = await sealHello({ rid: room.rid, sender: 1, seq: 1, roster: room.roster, identity: alice, alias });
    assert.equal(env.length, 40 + 12 + 256 + 16 + 64, JSON.stringify(alias));
  }
});

test('hello: must be signed by the key it announces', async () => {
  const { room, alice, bob } = await setup();
  // Bob claims Alice's keys but can only sign with his own.
  const data = enc.encode(JSON.stringify({ alias: 'alice', x: b64url(alice.xPub), e: b64url(alice.edPub) }));
  const forged = await sealEnvelope({ kind: KIND.HELLO, rid: room.rid, sender: 3, seq: 1, key: room.roster, edPriv: bob.edPriv, data });
  await assert.rejects(openHello(forged, room.roster), /bad signature/);
});

test('hello: malformed contents are rejected', async () => {
  const { room, alice } = await setup();
  const bodies = [
    'not json', '[]', '{"alias":"a"}', JSON.stringify({ alias: 1, x: b64url(alice.xPub), e: b64url(alice.edPub) }),
    JSON.stringify({ alias: 'a', x: b64url(alice.xPub.subarray(1)), e: b64url(alice.edPub) }),
    JSON.stringify({ alias: 'a', x: b64url(alice.xPub), e: b64url(alice.edPub) + '=' }),
  ];
  for (const b of bodies) {
    const env = await sealEnvelope({ kind: KIND.HELLO, rid: room.rid, sender: 3, seq: 1, key: room.roster, edPriv: alice.edPriv, data: enc.encode(b) });
    await assert.rejects(openHello(env, room.roster), Error, b);
  }
  const msg = await sealEnvelope({ kind: KIND.MSG, rid: room.rid, sender: 3, seq: 1, key: room.roster, edPriv: alice.edPriv, data: enc.encode('{}') });
  await assert.rejects(openHello(msg, room.roster), /kind/);
});

// ------------------------------------------------------------ aliases

test('normalizeAlias', () => {
  const cases = [
    ['quiet-otter', 'quiet-otter'],
    ['zero\u200bwidth', 'zerowidth'],
    ['rtl\u202eoverride\u202c', 'rtloverride'],
    ['\ufeffbom', 'bom'],
    ['ctrl\u0000\u0007\u001b\u007f\u0085chars', 'ctrlchars'],
    ['tab\there', 'tab here'],
    ['a \r\n\t b', 'a b'],
    ['  lots    of \u3000 space\u00a0 ', 'lots of space'],
    ['ｆｕｌｌ', 'full'],
    ['ﬁne', 'fine'],
    ['①②', '12'],
    ['e\u0301', 'é'],
    ['\u200b\u200d\u2060', ''],
    ['', ''],
    ['x'.repeat(40), 'x'.repeat(32)],
    ['😀'.repeat(40), '😀'.repeat(32)],
    [`${'y'.repeat(31)} z`, 'y'.repeat(31)],
    [`${'y'.repeat(30)} z`, `${'y'.repeat(30)} z`],
    ['lone\ud800surrogate', 'lone\ufffdsurrogate'],
  ];
  for (const [input, want] of cases) {
    assert.equal(normalizeAlias(input), want, `normalizeAlias(${JSON.stringify(input)})`);
  }
  for (const [input] of cases) {
    const once = normalizeAlias(input);
    assert.equal(normalizeAlias(once), once, `idempotent on ${JSON.stringify(input)}`);
  }
});

test('randomAlias: adjective-animal from ~50 words each', () => {
  assert.equal(new Set(WORDS.adjectives).size, WORDS.adjectives.length);
  assert.equal(new Set(WORDS.animals).size, WORDS.animals.length);
  assert.ok(WORDS.adjectives.length >= 45 && WORDS.animals.length >= 45);
  const seen = new Set();
  for (let i = 0; i < 300; i++) {
    const a = randomAlias();
    const [adj, animal, ...rest] = a.split('-');
    assert.equal(rest.length, 0, a);
    assert.ok(WORDS.adjectives.includes(adj), a);
    assert.ok(WORDS.animals.includes(animal), a);
    assert.equal(normalizeAlias(a), a);
    seen.add(a);
  }
  assert.ok(seen.size > 200, `only ${seen.size} distinct aliases in 300 draws`);
});

test('importAes takes 32 bytes only', async () => {
  await assert.rejects(importAes(new Uint8Array(16)));
  const k = await importAes(new Uint8Array(32).fill(7));
  assert.deepEqual(await exportRaw(k), new Uint8Array(32).fill(7));
});
