// HPKE (RFC 9180) over WebCrypto, checked against the RFC's own vectors in
// testdata/vectors/rfc9180.json (Appendix A.1.1: DHKEM(X25519, HKDF-SHA256),
// HKDF-SHA256, AES-128-GCM, base mode). veil uses the same KEM and KDF with
// AES-256-GCM (section 7.2); the AEAD only changes the key length.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import {
  hex, toHex, enc, hpkeSeal, hpkeOpen, hpkeKeySchedule, hpkeDeriveKeyPair, ephemeralFromBytes, newEphemeral,
  randomBytes,
} from '../static/js/e2ee.js';

const F = JSON.parse(readFileSync(new URL('../../../testdata/vectors/rfc9180.json', import.meta.url), 'utf8'));
const A = F.base_x25519_sha256_aes128gcm;
const E0 = A.encryptions[0];

test('RFC 9180 A.1.1: the file names its source and suite', () => {
  assert.match(F.comment, /RFC 9180/);
  assert.equal(A.mode, 0);
  assert.equal(A.kem_id, 0x20);
  assert.equal(A.kdf_id, 1);
  assert.equal(A.aead_id, 1);
  assert.equal(E0.sequence_number, 0);
  assert.equal(A.enc, A.pkEm, 'enc is the serialised pkEm');
  assert.equal(E0.nonce, A.base_nonce, 'sequence 0 uses base_nonce');
});

test('RFC 9180 A.1.1: DeriveKeyPair(ikmE, ikmR) gives skEm/pkEm and skRm/pkRm', async () => {
  const e = await hpkeDeriveKeyPair(hex(A.ikmE));
  assert.equal(toHex(e.priv), A.skEm);
  assert.equal(toHex(e.pub), A.pkEm);
  const r = await hpkeDeriveKeyPair(hex(A.ikmR));
  assert.equal(toHex(r.priv), A.skRm);
  assert.equal(toHex(r.pub), A.pkRm);
  // And the public keys follow from the private ones alone.
  assert.equal(toHex((await ephemeralFromBytes(hex(A.skEm))).pub), A.pkEm);
  assert.equal(toHex((await ephemeralFromBytes(hex(A.skRm))).pub), A.pkRm);
});

test('RFC 9180 A.1.1: key schedule from shared_secret', async () => {
  const ks = await hpkeKeySchedule(hex(A.shared_secret), hex(A.info), 'AES-128-GCM');
  assert.equal(toHex(ks.key), A.key);
  assert.equal(toHex(ks.baseNonce), A.base_nonce);
  assert.equal(toHex(ks.exporterSecret), A.exporter_secret);
});

test('RFC 9180 A.1.1: hpkeSeal with skEm reproduces enc and the sequence-0 ciphertext', async () => {
  const { enc: e, ct } = await hpkeSeal(hex(A.pkRm), hex(A.info), hex(E0.aad), hex(E0.pt),
    { aead: 'AES-128-GCM', ephemeralPriv: hex(A.skEm) });
  assert.equal(toHex(e), A.enc);
  assert.equal(toHex(ct), E0.ct);
});

test('RFC 9180 A.1.1: hpkeOpen with skRm (bytes or key) opens the ciphertext', async () => {
  const pt = await hpkeOpen(hex(A.skRm), hex(A.enc), hex(A.info), hex(E0.aad), hex(E0.ct), { aead: 'AES-128-GCM' });
  assert.equal(toHex(pt), E0.pt);
  assert.equal(new TextDecoder().decode(pt), 'Beauty is truth, truth beauty');
  const key = (await ephemeralFromBytes(hex(A.skRm))).priv;
  const pt2 = await hpkeOpen(key, hex(A.enc), hex(A.info), hex(E0.aad), hex(E0.ct),
    { aead: 'AES-128-GCM', pkR: hex(A.pkRm) });
  assert.equal(toHex(pt2), E0.pt);
});

test('RFC 9180 A.1.1: a changed aad, info, enc, ciphertext or AEAD is rejected', async () => {
  const open = (/** @type {Record<string, Uint8Array|string>} */ o) => hpkeOpen(hex(A.skRm),
    /** @type {Uint8Array} */ (o.enc ?? hex(A.enc)), /** @type {Uint8Array} */ (o.info ?? hex(A.info)),
    /** @type {Uint8Array} */ (o.aad ?? hex(E0.aad)), /** @type {Uint8Array} */ (o.ct ?? hex(E0.ct)),
    { aead: /** @type {any} */ (o.aead ?? 'AES-128-GCM') });
  await assert.rejects(open({ aad: enc.encode('Count-1') }), /does not authenticate/);
  await assert.rejects(open({ info: enc.encode('Ode on a Grecian Urn!') }), /does not authenticate/);
  const e = hex(A.enc); e[5] ^= 1;
  await assert.rejects(open({ enc: e }), /does not authenticate/);
  const ct = hex(E0.ct); ct[ct.length - 1] ^= 1;
  await assert.rejects(open({ ct }), /does not authenticate/);
  await assert.rejects(open({ aead: 'AES-256-GCM' }), /does not authenticate/);
  await assert.rejects(open({ enc: new Uint8Array(32) }), /all-zero/, 'a low-order enc');
});

test('HPKE AES-256-GCM (veil\'s suite): a fixed ephemeral gives stable bytes; a random one opens', async () => {
  const r = await hpkeDeriveKeyPair(hex(A.ikmR));
  const info = enc.encode('veil/sk test');
  const aad = randomBytes(40);
  const pt = randomBytes(40);
  const one = await hpkeSeal(r.pub, info, aad, pt, { ephemeralPriv: hex(A.skEm) });
  const two = await hpkeSeal(r.pub, info, aad, pt, { ephemeralPriv: hex(A.skEm) });
  assert.equal(toHex(one.enc), A.pkEm);
  assert.equal(toHex(one.ct), toHex(two.ct));
  assert.equal(one.ct.length, 40 + 16);
  assert.equal(toHex(await hpkeOpen(r.priv, one.enc, info, aad, one.ct)), toHex(pt));
  // The 128-bit AEAD gives other bytes from the same inputs.
  const short = await hpkeSeal(r.pub, info, aad, pt, { aead: 'AES-128-GCM', ephemeralPriv: hex(A.skEm) });
  assert.notEqual(toHex(short.ct), toHex(one.ct));

  const rnd = await hpkeSeal(r.pub, info, aad, pt);
  assert.notEqual(toHex(rnd.enc), A.pkEm);
  assert.equal(toHex(await hpkeOpen(r.priv, rnd.enc, info, aad, rnd.ct)), toHex(pt));
  // A non-extractable recipient key works too.
  const eph = await newEphemeral();
  const s = await hpkeSeal(eph.pub, info, aad, pt);
  assert.equal(toHex(await hpkeOpen(eph.priv, s.enc, info, aad, s.ct)), toHex(pt));
  await assert.rejects(hpkeOpen(r.priv, s.enc, info, aad, s.ct), /does not authenticate/, 'another recipient');
});

test('hpkeSeal rejects a low-order recipient key (all-zero DH)', async () => {
  await assert.rejects(hpkeSeal(new Uint8Array(32), new Uint8Array(0), new Uint8Array(0), new Uint8Array(1)), /all-zero/);
  await assert.rejects(hpkeSeal(Uint8Array.of(1, ...new Uint8Array(31)), new Uint8Array(0), new Uint8Array(0),
    new Uint8Array(1)), /all-zero/);
});
