// Shared vectors: testdata/vectors/v1.json is written by the Go
// implementation (go test ./internal/e2ee -update) and must be reproduced
// here byte for byte, so the web client and the Go clients share rooms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import {
  hex, toHex, enc, dec, deriveRoom, passwordKey, exportRaw, importAes, parseLink, makeLink,
  normalizeAlias, pad, unpad, fingerprint, identityFromSeeds, dmKey, sealMeta, openMeta,
  sealEnvelope, openEnvelope, sealHello, openHello,
} from '../static/js/e2ee.js';
import { KIND, parseHeader } from '../static/js/protocol.js';

const V = JSON.parse(readFileSync(new URL('../../../testdata/vectors/v1.json', import.meta.url), 'utf8'));

test('vectors file has every section', () => {
  for (const k of ['key_schedule', 'links', 'aliases', 'padding', 'fingerprints', 'dm_keys', 'meta', 'envelopes', 'negative']) {
    assert.ok(Array.isArray(V[k]) && V[k].length > 0, `section ${k}`);
  }
});

for (const c of V.key_schedule) {
  test(`key schedule: ${c.name}`, async () => {
    const r = await deriveRoom(hex(c.secret), c.password);
    assert.equal(toHex(r.rid), c.rid, 'rid');
    assert.equal(toHex(r.join), c.join, 'join');
    assert.equal(toHex(r.verifier), c.verifier, 'verifier');
    assert.equal(toHex(await exportRaw(r.roster)), c.roster, 'roster');
    assert.equal(toHex(await exportRaw(r.msg)), c.msg, 'msg');
    if (c.password) {
      assert.equal(toHex(await passwordKey(c.password, r.rid)), c.password_key, 'password_key');
    } else {
      assert.equal(c.password_key, '');
    }
  });
}

test('links', () => {
  for (const c of V.links) {
    const got = parseLink(c.link);
    if (!c.valid) {
      assert.equal(got, null, `parseLink(${JSON.stringify(c.link)}) should be invalid`);
      continue;
    }
    assert.ok(got, `parseLink(${JSON.stringify(c.link)}) should be valid`);
    assert.equal(toHex(got.secret), c.secret, c.link);
    assert.equal(got.hasPassword, !!c.password, c.link);
    const i = c.link.indexOf('/#');
    if (i > 0) assert.equal(makeLink(c.link.slice(0, i), got.secret, got.hasPassword), c.link);
  }
});

test('aliases', () => {
  for (const c of V.aliases) {
    assert.equal(normalizeAlias(c.in), c.out, `normalizeAlias(${JSON.stringify(c.in)})`);
  }
});

test('padding', () => {
  for (const c of V.padding) {
    const data = new Uint8Array(c.data_len).fill(0x5a);
    if (c.padded_len === 0) {
      assert.throws(() => pad(data), `pad(${c.data_len} bytes) should throw`);
      continue;
    }
    const p = pad(data);
    assert.equal(p.length, c.padded_len, `pad(${c.data_len} bytes)`);
    assert.deepEqual(unpad(p), data);
  }
});

test('fingerprints', async () => {
  for (const c of V.fingerprints) {
    assert.equal(await fingerprint(hex(c.ed), hex(c.x)), c.fingerprint);
  }
});

test('dm keys', async () => {
  for (const c of V.dm_keys) {
    const id = await identityFromSeeds(new Uint8Array(32), hex(c.x_priv_a));
    const p = dmKey(id.xPriv, hex(c.x_pub_b), hex(c.rid), c.a, c.b);
    if (c.key === '') {
      await assert.rejects(p, /all-zero/, `dm key with peer ${c.x_pub_b} should be rejected`);
      continue;
    }
    assert.equal(toHex(await exportRaw(await p)), c.key);
    // The order of the two session ids does not matter.
    assert.equal(toHex(await exportRaw(await dmKey(id.xPriv, hex(c.x_pub_b), hex(c.rid), c.b, c.a))), c.key);
  }
});

test('meta', async () => {
  for (const c of V.meta) {
    const key = await importAes(hex(c.roster));
    const rid = hex(c.rid);
    const sealed = await sealMeta(key, rid, JSON.parse(c.meta), hex(c.nonce));
    assert.equal(toHex(sealed), c.sealed);
    assert.deepEqual(await openMeta(key, rid, hex(c.sealed)), JSON.parse(c.meta));
    const other = rid.slice();
    other[0] ^= 1;
    await assert.rejects(openMeta(key, other, hex(c.sealed)));
  }
});

for (const c of V.envelopes) {
  test(`envelope: ${c.name}`, async () => {
    const room = await deriveRoom(hex(c.secret), c.password);
    const id = await identityFromSeeds(hex(c.ed_seed), hex(c.x_priv));
    let key;
    if (c.kind === KIND.HELLO) key = room.roster;
    else if (c.kind === KIND.MSG) key = room.msg;
    else key = await dmKey(id.xPriv, hex(c.peer_x_pub), room.rid, c.sender, c.to);
    assert.equal(toHex(await exportRaw(key)), c.key, 'key');

    const env = await sealEnvelope({
      kind: c.kind, rid: room.rid, sender: c.sender, to: c.to, seq: c.seq,
      key, edPriv: id.edPriv, data: enc.encode(c.data), nonce: hex(c.nonce),
    });
    assert.equal(toHex(env), c.envelope, 'envelope bytes');

    const h = parseHeader(env);
    assert.equal(h.kind, c.kind);
    assert.equal(h.sender, c.sender);
    assert.equal(h.to, c.to);
    assert.equal(h.seq, BigInt(c.seq));
    assert.deepEqual(h.rid, room.rid);

    const opened = await openEnvelope(hex(c.envelope), { key, edPub: id.edPub, rid: room.rid });
    assert.equal(dec.decode(opened.data), c.data);

    if (c.kind === KIND.HELLO) {
      const want = JSON.parse(c.data);
      const hello = await sealHello({
        rid: room.rid, sender: c.sender, seq: c.seq, roster: room.roster, identity: id,
        alias: want.alias, nonce: hex(c.nonce),
      });
      assert.equal(toHex(hello), c.envelope, 'sealHello bytes');
      const got = await openHello(hex(c.envelope), room.roster, { sender: c.sender, rid: room.rid });
      assert.equal(got.alias, want.alias);
      assert.deepEqual(got.edPub, id.edPub);
      assert.deepEqual(got.xPub, id.xPub);
    }
  });
}

// Why each negative vector must fail, so a rejection for the wrong reason
// (say, a padding vector whose signature is broken) is caught too.
const WHY = {
  'flipped header bit': /bad signature/,
  'flipped nonce bit': /bad signature/,
  'flipped tag bit': /bad signature/,
  'flipped signature bit': /bad signature/,
  'truncated': /bad signature/,
  'wrong room key': /does not authenticate/,
  'wrong sender key': /bad signature/,
  'roster key for a message': /does not authenticate/,
  'non-zero padding': /padding/,
};

for (const c of V.negative) {
  test(`negative: ${c.name}`, async () => {
    const key = await importAes(hex(c.key));
    await assert.rejects(openEnvelope(hex(c.envelope), { key, edPub: hex(c.ed_pub) }), WHY[c.name] ?? Error);
  });
}
