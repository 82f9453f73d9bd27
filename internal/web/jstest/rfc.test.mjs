// Published vectors (testdata/vectors/rfc.json, shared with the Go tests)
// through the WebCrypto primitives the browser client uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { hkdf, hex, toHex, identityFromSeeds, enc, dmKey } from '../static/js/e2ee.js';

const v = JSON.parse(readFileSync(new URL('../../../testdata/vectors/rfc.json', import.meta.url), 'utf8'));
const { subtle } = globalThis.crypto;

test('rfc.json: HKDF-SHA256 (RFC 5869)', async () => {
  assert.ok(v.hkdf_sha256.length >= 2);
  for (const c of v.hkdf_sha256) {
    assert.equal(toHex(await hkdf(hex(c.ikm), hex(c.salt), hex(c.info), c.length)), c.okm, c.name);
  }
});

test('rfc.json: Ed25519 (RFC 8032)', async () => {
  for (const c of v.ed25519) {
    const id = await identityFromSeeds(hex(c.secret), new Uint8Array(32).fill(1));
    assert.equal(toHex(id.edPub), c.public, c.name);
    const sig = new Uint8Array(await subtle.sign({ name: 'Ed25519' }, id.edPriv, hex(c.message)));
    assert.equal(toHex(sig), c.signature, c.name);
  }
});

test('rfc.json: X25519 (RFC 7748) and the all-zero rejection', async () => {
  for (const c of v.x25519) {
    const a = await identityFromSeeds(new Uint8Array(32), hex(c.a_priv));
    const derive = async () => {
      const pub = await subtle.importKey('raw', hex(c.b_pub), { name: 'X25519' }, true, []);
      return new Uint8Array(await subtle.deriveBits({ name: 'X25519', public: pub }, a.xPriv, 256));
    };
    if (c.shared === '') {
      await assert.rejects(dmKey(a.xPriv, hex(c.b_pub), new Uint8Array(16), 1, 2), undefined, c.name);
      continue;
    }
    assert.equal(toHex(a.xPub), c.a_pub, c.name);
    assert.equal(toHex(await derive()), c.shared, c.name);
  }
});

test('rfc.json: PBKDF2-HMAC-SHA256 (RFC 7914)', async () => {
  for (const c of v.pbkdf2_sha256) {
    const key = await subtle.importKey('raw', enc.encode(c.password), 'PBKDF2', false, ['deriveBits']);
    const dk = new Uint8Array(await subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt: hex(c.salt), iterations: c.iterations }, key, c.length * 8));
    assert.equal(toHex(dk), c.dk, c.name);
  }
});
