// Attachments (docs/protocol.md section 8) in the browser's file module:
// manifests, sealing and taking in chunks, and every way a chunk stream can
// be tampered with (reordered, truncated, duplicated, substituted, altered),
// plus a hash that does not match; file names and magic bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

import {
  CHUNK_DATA, MAX_FILE, MAX_NAME, FileError, Incoming, checkManifest, chunksFor, formatSize, newManifest,
  sanitizeName, sealChunk, sniff,
} from '../static/js/file.js';
import { KIND_CHUNK, FLAG_LAST, parseHeader, encodeChunkHeader } from '../static/js/protocol.js';
import { newIdentity, randomBytes, toHex, b64url, fromB64url, concat } from '../static/js/e2ee.js';
import { aesKey } from '../static/js/primitives.js';
import { signed } from '../static/js/envelope.js';

const RID = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
const SENDER = 7;

/**
 * A file of n bytes, sealed: its manifest (as the receiver checks it) and
 * every chunk envelope.
 * @param {number} n
 * @param {{to?: number, id?: any, tid?: number}} [o]
 */
async function sealed(n, o = {}) {
  const id = o.id ?? await newIdentity();
  const data = randomBytes(n);
  const { manifest, key } = await newManifest(data, { name: 'f.bin', type: 'application/octet-stream' });
  if (o.tid) manifest.tid = o.tid;
  const k = await aesKey(key);
  const envs = [];
  for (let i = 0; i < manifest.chunks; i++) {
    envs.push(await sealChunk({
      rid: RID, sender: SENDER, to: o.to ?? 0, tid: manifest.tid, index: i, chunks: manifest.chunks, key: k,
      edPriv: id.edPriv, data,
    }));
  }
  return { id, data, manifest: { ...manifest }, envs, key };
}

/**
 * Feed envs to a fresh Incoming for the file; resolves to the file or
 * rejects with the first FileError.
 * @param {Awaited<ReturnType<typeof sealed>>} f
 * @param {Uint8Array[]} envs
 * @param {{dm?: boolean}} [o]
 */
async function receive(f, envs, o = {}) {
  const { manifest, key } = await checkManifest(JSON.parse(JSON.stringify(f.manifest)));
  const inc = new Incoming(manifest, key, { edPub: f.id.edPub, dm: o.dm ?? false });
  let out = null;
  for (const env of envs) {
    out = await inc.take(env, parseHeader(env));
  }
  return { out, inc };
}

/** @param {Promise<unknown>} p @param {RegExp} re */
async function failsWith(p, re) {
  await assert.rejects(p, (e) => {
    assert.ok(e instanceof FileError, `want a FileError, got ${e}`);
    assert.match(e.message, re);
    return true;
  });
}

const sha = (b) => createHash('sha256').update(b).digest('hex');

test('chunk header: kind 6, suite 2, last flag, epoch = transfer id, seq = index + 1', () => {
  const h = encodeChunkHeader({ rid: RID, sender: 9, to: 3, tid: 0x12345678, index: 4, last: true });
  assert.equal(toHex(h.subarray(0, 4)), '01020601');
  const p = parseHeader(concat(h, new Uint8Array(92)));
  assert.deepEqual([p.kind, p.flags, p.sender, p.to, p.epoch, p.seq], [KIND_CHUNK, FLAG_LAST, 9, 3, 0x12345678, 5n]);
  assert.equal(encodeChunkHeader({ rid: RID, sender: 9, tid: 1, index: 0, last: false })[3], 0);
  assert.throws(() => encodeChunkHeader({ rid: RID, sender: 9, tid: 0, index: 0, last: true }), /transfer id/);
});

test('round trip: sizes around the chunk boundary, room and DM', async () => {
  for (const n of [0, 1, 1000, CHUNK_DATA - 1, CHUNK_DATA, CHUNK_DATA + 1, 3 * CHUNK_DATA + 17]) {
    const f = await sealed(n);
    assert.equal(f.manifest.chunks, chunksFor(n));
    assert.equal(f.manifest.sha256, sha(f.data));
    assert.equal(f.envs.length, Math.max(1, Math.ceil(n / CHUNK_DATA)));
    for (const [i, env] of f.envs.entries()) {
      const h = parseHeader(env);
      assert.equal(h.flags, i === f.envs.length - 1 ? FLAG_LAST : 0, `flags of chunk ${i} of ${n} bytes`);
      // every chunk but the last fills the 65536 bucket: 40 + 12 + 65536 + 16 + 64
      if (i < f.envs.length - 1) assert.equal(env.length, 65668);
    }
    const { out } = await receive(f, f.envs);
    assert.ok(out, `${n} bytes arrived`);
    assert.equal(sha(out), sha(f.data), `${n} bytes intact`);
  }
  const dm = await sealed(2 * CHUNK_DATA + 5, { to: 42 });
  const { out } = await receive(dm, dm.envs, { dm: true });
  assert.equal(sha(out), sha(dm.data));
});

test('manifest: well-formed ones pass, names are sanitised, bad ones are refused with a reason', async () => {
  const { manifest } = await newManifest(new Uint8Array(10), { name: 'a/b\\c.txt', type: 'Text/Plain', voice: true });
  assert.equal(manifest.name, 'a_b_c.txt');
  assert.equal(manifest.type, 'text/plain');
  assert.equal(manifest.voice, true);
  assert.equal(fromB64url(manifest.key).length, 32);
  assert.ok(manifest.tid >= 1 && manifest.tid <= 0xffffffff);
  const ok = await checkManifest({ ...manifest, name: '\u202egpj.exe' });
  assert.equal(ok.manifest.name, 'gpj.exe');
  assert.equal(ok.manifest.voice, true);

  const cases = {
    'not an object': [null, /not an object/],
    'tid 0': [{ ...manifest, tid: 0 }, /transfer id/],
    'tid too big': [{ ...manifest, tid: 2 ** 32 }, /transfer id/],
    'negative size': [{ ...manifest, size: -1 }, /size/],
    'over the limit': [{ ...manifest, size: MAX_FILE + 1, chunks: chunksFor(MAX_FILE + 1) }, /over this client's limit of 100\.0 MiB/],
    'chunk count': [{ ...manifest, chunks: 2 }, /chunk count/],
    'short hash': [{ ...manifest, sha256: 'ab' }, /SHA-256/],
    'short key': [{ ...manifest, key: b64url(new Uint8Array(16)) }, /file key/],
    'bad key': [{ ...manifest, key: '!!' }, /file key/],
    'voice not boolean': [{ ...manifest, voice: 'yes' }, /voice/],
  };
  for (const [name, [m, re]] of Object.entries(cases)) {
    await failsWith(checkManifest(m), re).catch((e) => assert.fail(`${name}: ${e.message}`));
  }
  // The limit is the sender's too.
  await failsWith(newManifest(new Uint8Array(11), { name: 'x', type: '', limit: 10 }), /limit/);
});

test('reordered chunks are rejected', async () => {
  const f = await sealed(3 * CHUNK_DATA);
  await failsWith(receive(f, [f.envs[1], f.envs[0], f.envs[2]]), /chunk 2 arrived where chunk 1 was due/);
  await failsWith(receive(f, [f.envs[0], f.envs[2], f.envs[1]]), /chunk 3 arrived where chunk 2 was due/);
});

test('a truncated file (no chunk with the last flag) never completes, and a forged last flag is rejected', async () => {
  const f = await sealed(3 * CHUNK_DATA);
  const { out, inc } = await receive(f, f.envs.slice(0, 2));
  assert.equal(out, null, 'two of three chunks are not a file');
  assert.equal(inc.next, 2);
  // Setting the last flag on chunk 2 to cut the file short breaks the
  // signature (and the tag: the header is the associated data).
  const cut = f.envs[1].slice();
  cut[3] = FLAG_LAST;
  await failsWith(receive(f, [f.envs[0], cut]), /last-chunk mark/);
  // A shorter manifest whose last chunk is the sender's real chunk 2: that
  // chunk has no last flag.
  const short = { ...f, manifest: { ...f.manifest, size: 2 * CHUNK_DATA, chunks: 2 } };
  await failsWith(receive(short, f.envs.slice(0, 2)), /last-chunk mark/);
  // The other way: a longer manifest; the real last chunk arrives too early.
  const long = { ...f, manifest: { ...f.manifest, size: 4 * CHUNK_DATA, chunks: 4 } };
  await failsWith(receive(long, f.envs), /last-chunk mark/);
});

test('duplicated chunks are rejected', async () => {
  const f = await sealed(3 * CHUNK_DATA);
  await failsWith(receive(f, [f.envs[0], f.envs[0]]), /chunk 1 arrived where chunk 2 was due/);
  await failsWith(receive(f, [f.envs[0], f.envs[1], f.envs[1], f.envs[2]]), /chunk 2 arrived where chunk 3 was due/);
  // After the last chunk the transfer is over.
  const { inc } = await receive(f, f.envs);
  await failsWith(inc.take(f.envs[2], parseHeader(f.envs[2])), /over/);
});

test('substituted chunks (from another file) are rejected', async () => {
  const id = await newIdentity();
  const a = await sealed(3 * CHUNK_DATA, { id });
  // Another file of the same sender, as it was sent: another transfer id.
  const b = await sealed(3 * CHUNK_DATA, { id });
  await failsWith(receive(a, [a.envs[0], b.envs[1], a.envs[2]]), /another file/);
  // Another file with the same transfer id (same sender, so the signature
  // holds): the file key differs, so the chunk does not open.
  const c = await sealed(3 * CHUNK_DATA, { id, tid: a.manifest.tid });
  await failsWith(receive(a, [a.envs[0], c.envs[1], a.envs[2]]), /does not open/);
  // The other file's chunk relabelled with this transfer id: the signature breaks.
  const moved = b.envs[1].slice();
  new DataView(moved.buffer).setUint32(28, a.manifest.tid);
  await failsWith(receive(a, [a.envs[0], moved]), /bad signature/);
  // Relabelled and re-signed by someone else: signed by the wrong key.
  const mallory = await newIdentity();
  const forged = await signed(moved.subarray(0, moved.length - 64), mallory.edPriv);
  await failsWith(receive(a, [a.envs[0], forged]), /bad signature/);
  // Moved from the room into a DM (to changed): the signature breaks; and a
  // room file's chunk arriving as a DM one is refused before that.
  const dmChunk = a.envs[1].slice();
  new DataView(dmChunk.buffer).setUint32(24, 99);
  await failsWith(receive(a, [a.envs[0], dmChunk]), /direct message/);
});

test('chunks with a flipped bit are rejected, wherever the bit is', async () => {
  const f = await sealed(2 * CHUNK_DATA + 100);
  const env = f.envs[1];
  // header (rid, sender, seq), nonce, ciphertext, tag, signature
  for (const at of [5, 21, 39, 40, 51, 52, 1000, env.length - 65, env.length - 64, env.length - 1]) {
    const bad = env.slice();
    bad[at] ^= 0x01;
    await assert.rejects(receive(f, [f.envs[0], bad]), FileError, `bit flipped at ${at}`);
  }
  // The same with a key that signs it again (the sender's own): the tag still fails.
  const bad = env.slice(0, env.length - 64);
  bad[1000] ^= 0x80;
  await failsWith(receive(f, [f.envs[0], await signed(bad, f.id.edPriv)]), /does not open/);
  // A wrong length inside an authentic chunk: sealed by the sender from a
  // shorter file under the same manifest.
  const key = await aesKey(f.key);
  const short = await sealChunk({
    rid: RID, sender: SENDER, tid: f.manifest.tid, index: 1, chunks: f.manifest.chunks, key, edPriv: f.id.edPriv,
    data: f.data.subarray(0, CHUNK_DATA + 10),
  });
  await failsWith(receive(f, [f.envs[0], short]), /wrong length/);
});

test('a file whose SHA-256 does not match its manifest is rejected', async () => {
  const f = await sealed(CHUNK_DATA + 5);
  const wrong = { ...f, manifest: { ...f.manifest, sha256: sha(new Uint8Array(1)) } };
  await failsWith(receive(wrong, f.envs), /SHA-256 does not match/);
  // An upper-case hash of the right file is the same hash.
  const upper = { ...f, manifest: { ...f.manifest, sha256: f.manifest.sha256.toUpperCase() } };
  const { out } = await receive(upper, f.envs);
  assert.equal(sha(out), sha(f.data));
});

test('discard drops what was received', async () => {
  const f = await sealed(3 * CHUNK_DATA);
  const { inc } = await receive(f, f.envs.slice(0, 1));
  inc.discard();
  await failsWith(inc.take(f.envs[1], parseHeader(f.envs[1])), /over/);
});

test('sanitizeName: no separators, controls, direction marks, leading dots; length capped', () => {
  assert.equal(sanitizeName('report.pdf'), 'report.pdf');
  assert.equal(sanitizeName('../../etc/passwd'), '_.._etc_passwd');
  assert.equal(sanitizeName('C:\\Windows\\x.dll'), 'C__Windows_x.dll');
  assert.equal(sanitizeName('a\u0000b\u0007c\nd\u200be'), 'abcde');
  assert.equal(sanitizeName('photo\u202egnp.exe'), 'photognp.exe');
  assert.equal(sanitizeName('...'), 'file');
  assert.equal(sanitizeName(''), 'file');
  assert.equal(sanitizeName('  .hidden  '), 'hidden');
  const long = sanitizeName(`${'ä'.repeat(300)}.jpeg`);
  assert.equal(Array.from(long).length, MAX_NAME);
  assert.ok(long.endsWith('.jpeg'));
  assert.equal(Array.from(sanitizeName('x'.repeat(500))).length, MAX_NAME);
});

test('sniff: pictures, audio and video by magic bytes only; SVG and HTML never', () => {
  const b = (...xs) => Uint8Array.from(xs.flatMap((x) => (typeof x === 'string' ? Array.from(x, (c) => c.charCodeAt(0)) : [x])));
  assert.deepEqual(sniff(b(0x89, 'PNG\r\n', 0x1a, '\n', 0, 0)), { kind: 'image', type: 'image/png' });
  assert.deepEqual(sniff(b(0xff, 0xd8, 0xff, 0xe0)), { kind: 'image', type: 'image/jpeg' });
  assert.deepEqual(sniff(b('GIF89a')), { kind: 'image', type: 'image/gif' });
  assert.deepEqual(sniff(b('RIFF', 0, 0, 0, 0, 'WEBPVP8 ')), { kind: 'image', type: 'image/webp' });
  assert.deepEqual(sniff(b('RIFF', 0, 0, 0, 0, 'WAVEfmt ')), { kind: 'audio', type: 'audio/wav' });
  assert.deepEqual(sniff(b(0x1a, 0x45, 0xdf, 0xa3, 1), 'audio/webm;codecs=opus', true), { kind: 'audio', type: 'audio/webm' });
  assert.deepEqual(sniff(b(0x1a, 0x45, 0xdf, 0xa3, 1), 'video/webm'), { kind: 'video', type: 'video/webm' });
  assert.deepEqual(sniff(b('OggS', 0)), { kind: 'audio', type: 'audio/ogg' });
  assert.deepEqual(sniff(b(0, 0, 0, 0x18, 'ftypmp42')), { kind: 'video', type: 'video/mp4' });
  assert.deepEqual(sniff(b(0, 0, 0, 0x18, 'ftypM4A '), 'audio/mp4'), { kind: 'audio', type: 'audio/mp4' });
  assert.deepEqual(sniff(b('ID3', 4)), { kind: 'audio', type: 'audio/mpeg' });
  assert.deepEqual(sniff(b(0xff, 0xfb, 0x90)), { kind: 'audio', type: 'audio/mpeg' });
  // Whatever the declared type says:
  const svg = b('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>');
  assert.equal(sniff(svg, 'image/png'), null);
  assert.equal(sniff(svg, 'image/svg+xml'), null);
  assert.equal(sniff(b('<!doctype html><script>alert(1)</script>'), 'image/png'), null);
  assert.equal(sniff(b('PK', 3, 4), 'image/jpeg'), null);
  assert.equal(sniff(new Uint8Array(0), 'image/png'), null);
});

test('formatSize', () => {
  assert.equal(formatSize(0), '0 B');
  assert.equal(formatSize(1023), '1023 B');
  assert.equal(formatSize(65536), '64.0 KiB');
  assert.equal(formatSize(5 * 1024 * 1024), '5.0 MiB');
  assert.equal(formatSize(MAX_FILE), '100.0 MiB');
});
