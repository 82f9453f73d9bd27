// @ts-check
// hpke.js: HPKE (RFC 9180) base mode, single shot, with DHKEM(X25519,
// HKDF-SHA256), HKDF-SHA256 and AES-256-GCM (AES-128-GCM for the RFC's
// vectors): what veil's sender keys are sealed with (docs/protocol.md
// section 7.2). Pure: no DOM, no network, no storage.

import { NONCE_LEN } from './protocol.js';
import { enc, bs, concat, need } from './bytes.js';
import {
  subtle, hkdfExtract, hkdfExpand, x25519, x25519Public, importX25519, newEphemeral, ephemeralFromBytes,
} from './primitives.js';

/** HPKE AEADs (RFC 9180 section 7.3): veil uses AES-256-GCM; AES-128-GCM is for the RFC's vectors. */
const HPKE_AEADS = Object.freeze({
  'AES-128-GCM': { id: 0x0001, nk: 16 },
  'AES-256-GCM': { id: 0x0002, nk: 32 },
});
const HPKE_KEM_X25519 = 0x0020;
const HPKE_KDF_SHA256 = 0x0001;
const L_HPKE = enc.encode('HPKE-v1');
const KEM_SUITE = concat(enc.encode('KEM'), Uint8Array.of(0x00, HPKE_KEM_X25519));

/**
 * @param {'AES-256-GCM'|'AES-128-GCM'|undefined} name
 */
function hpkeAead(name) {
  const a = HPKE_AEADS[name ?? 'AES-256-GCM'];
  if (!a) throw new Error(`hpke: unknown AEAD ${name}`);
  return a;
}

/**
 * @param {number} aeadID
 * @returns {Uint8Array} "HPKE" || kem_id || kdf_id || aead_id
 */
function hpkeSuiteID(aeadID) {
  return concat(enc.encode('HPKE'), Uint8Array.of(0, HPKE_KEM_X25519, 0, HPKE_KDF_SHA256, aeadID >> 8, aeadID & 255));
}

/**
 * LabeledExtract (RFC 9180 section 4).
 * @param {Uint8Array} suiteID
 * @param {Uint8Array} salt
 * @param {string} label
 * @param {Uint8Array} ikm
 */
function labeledExtract(suiteID, salt, label, ikm) {
  return hkdfExtract(salt, concat(L_HPKE, suiteID, enc.encode(label), ikm));
}

/**
 * LabeledExpand (RFC 9180 section 4).
 * @param {Uint8Array} suiteID
 * @param {Uint8Array} prk
 * @param {string} label
 * @param {Uint8Array} info
 * @param {number} len
 */
function labeledExpand(suiteID, prk, label, info, len) {
  return hkdfExpand(prk, concat(Uint8Array.of(len >> 8, len & 255), L_HPKE, suiteID, enc.encode(label), info), len);
}

/**
 * DHKEM's ExtractAndExpand (RFC 9180 section 4.1).
 * @param {Uint8Array} dh
 * @param {Uint8Array} kemContext enc || pkR
 * @returns {Promise<Uint8Array>} the KEM shared secret, 32 bytes
 */
async function extractAndExpand(dh, kemContext) {
  const prk = await labeledExtract(KEM_SUITE, new Uint8Array(0), 'eae_prk', dh);
  const ss = await labeledExpand(KEM_SUITE, prk, 'shared_secret', kemContext, 32);
  prk.fill(0);
  return ss;
}

/**
 * The base-mode key schedule (RFC 9180 section 5.1), exposed for the RFC's
 * intermediate values in tests.
 * @param {Uint8Array} sharedSecret
 * @param {Uint8Array} info
 * @param {'AES-256-GCM'|'AES-128-GCM'} [aead]
 * @returns {Promise<{key: Uint8Array, baseNonce: Uint8Array, exporterSecret: Uint8Array}>}
 */
export async function hpkeKeySchedule(sharedSecret, info, aead) {
  const a = hpkeAead(aead);
  const suite = hpkeSuiteID(a.id);
  const empty = new Uint8Array(0);
  const pskIDHash = await labeledExtract(suite, empty, 'psk_id_hash', empty);
  const infoHash = await labeledExtract(suite, empty, 'info_hash', info);
  const context = concat(Uint8Array.of(0), pskIDHash, infoHash); // mode_base
  const secret = await labeledExtract(suite, sharedSecret, 'secret', empty);
  const [key, baseNonce, exporterSecret] = await Promise.all([
    labeledExpand(suite, secret, 'key', context, a.nk),
    labeledExpand(suite, secret, 'base_nonce', context, NONCE_LEN),
    labeledExpand(suite, secret, 'exp', context, 32),
  ]);
  secret.fill(0);
  return { key, baseNonce, exporterSecret };
}

/**
 * DeriveKeyPair for DHKEM(X25519, HKDF-SHA256) (RFC 9180 section 7.1.3),
 * for the RFC's vectors: the private scalar and public key from ikm.
 * @param {Uint8Array} ikm
 * @returns {Promise<{priv: Uint8Array, pub: Uint8Array}>}
 */
export async function hpkeDeriveKeyPair(ikm) {
  const prk = await labeledExtract(KEM_SUITE, new Uint8Array(0), 'dkp_prk', ikm);
  const priv = await labeledExpand(KEM_SUITE, prk, 'sk', new Uint8Array(0), 32);
  prk.fill(0);
  return { priv, pub: await x25519Public(await importX25519(priv)) };
}

/**
 * @param {Uint8Array} key
 * @param {'encrypt'|'decrypt'} use
 */
function hpkeAesKey(key, use) {
  return subtle.importKey('raw', bs(key), { name: 'AES-GCM' }, false, [use]);
}

/**
 * HPKE base mode, single shot (RFC 9180 sections 5 and 6.1) with
 * DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and AES-256-GCM (or AES-128-GCM):
 * encrypts pt to pkR as the context's first message (sequence 0).
 * o.ephemeralPriv fixes skE, for test vectors only.
 * @param {Uint8Array} pkR the recipient's X25519 public key
 * @param {Uint8Array} info
 * @param {Uint8Array} aad
 * @param {Uint8Array} pt
 * @param {{aead?: 'AES-256-GCM'|'AES-128-GCM', ephemeralPriv?: Uint8Array}} [o]
 * @returns {Promise<{enc: Uint8Array, ct: Uint8Array}>}
 */
export async function hpkeSeal(pkR, info, aad, pt, o = {}) {
  need(pkR, 32, 'hpke: recipient key');
  const eph = o.ephemeralPriv ? await ephemeralFromBytes(o.ephemeralPriv) : await newEphemeral();
  const dh = await x25519(eph.priv, pkR);
  const ss = await extractAndExpand(dh, concat(eph.pub, pkR));
  dh.fill(0);
  const { key, baseNonce, exporterSecret } = await hpkeKeySchedule(ss, info, o.aead);
  ss.fill(0);
  exporterSecret.fill(0);
  const k = await hpkeAesKey(key, 'encrypt');
  key.fill(0);
  const ct = new Uint8Array(await subtle.encrypt(
    { name: 'AES-GCM', iv: bs(baseNonce), additionalData: bs(aad), tagLength: 128 }, k, bs(pt)));
  return { enc: eph.pub, ct };
}

/**
 * Open what hpkeSeal sealed: decapsulate enc with skR and decrypt ct as the
 * first message. Throws if the KEM output is all-zero or ct does not
 * authenticate.
 * @param {CryptoKey|Uint8Array} skR X25519 private key (a key or 32 raw bytes)
 * @param {Uint8Array} enc 32 bytes
 * @param {Uint8Array} info
 * @param {Uint8Array} aad
 * @param {Uint8Array} ct
 * @param {{aead?: 'AES-256-GCM'|'AES-128-GCM', pkR?: Uint8Array}} [o] pkR saves a scalar multiplication
 * @returns {Promise<Uint8Array>}
 */
export async function hpkeOpen(skR, enc, info, aad, ct, o = {}) {
  need(enc, 32, 'hpke: enc');
  const sk = skR instanceof Uint8Array ? await importX25519(skR) : skR;
  const pkR = o.pkR ?? await x25519Public(sk);
  const dh = await x25519(sk, enc);
  const ss = await extractAndExpand(dh, concat(enc, pkR));
  dh.fill(0);
  const { key, baseNonce, exporterSecret } = await hpkeKeySchedule(ss, info, o.aead);
  ss.fill(0);
  exporterSecret.fill(0);
  const k = await hpkeAesKey(key, 'decrypt');
  key.fill(0);
  try {
    return new Uint8Array(await subtle.decrypt(
      { name: 'AES-GCM', iv: bs(baseNonce), additionalData: bs(aad), tagLength: 128 }, k, bs(ct)));
  } catch (e) {
    throw new Error('hpke: ciphertext does not authenticate', { cause: e });
  }
}
