// @ts-check
// file.js: attachments (docs/protocol.md section 8). The manifest a file
// travels with, sealing its chunks (kind 6) and taking them in with every
// check of 8.2 (order, last mark, signature, tag, padding, length, and the
// SHA-256 of the whole file before anything is offered), file names made
// safe to show and save, and recognising pictures, audio and video by their
// first bytes (never by the name or the MIME type a peer sent).
// Pure: no DOM, no network, no storage. Every check throws a FileError whose
// message says, for a person, why the file failed.

import { KIND_CHUNK, FLAG_LAST, SUITE2, VERSION, encodeChunkHeader } from './protocol.js';
import { MAX_DATA, pad, sealBody, verifyEnvelope, decryptEnvelope } from './envelope.js';
import { b64url, fromB64url, toHex } from './bytes.js';
import { randomBytes, sha256, aesKey } from './primitives.js';

/** Plaintext bytes in every chunk but the last (fills the 65536 bucket). */
export const CHUNK_DATA = MAX_DATA;
/** The largest file this client sends or accepts: 100 MiB, the relay's default. */
export const MAX_FILE = 100 * 1024 * 1024;
/** Longest file name kept, in code points. */
export const MAX_NAME = 120;
/** Longest MIME type kept from a manifest. */
const MAX_TYPE = 127;

/** Why a file failed; message is for a person. */
export class FileError extends Error {}

/**
 * @typedef {object} Manifest  the "file" object of a message (8.1)
 * @property {number} tid      transfer id: the chunks' epoch, not 0
 * @property {string} name
 * @property {string} type     MIME type as the sender saw it (a hint only)
 * @property {number} size     bytes of the plaintext
 * @property {number} chunks   ceil(size / 65532), at least 1
 * @property {string} sha256   lowercase hex of the SHA-256 of the whole file
 * @property {string} key      b64url of the 32-byte file key
 * @property {boolean} [voice] a recorded voice note
 */

/**
 * How many chunks carry size bytes.
 * @param {number} size
 * @returns {number}
 */
export function chunksFor(size) {
  return Math.max(1, Math.ceil(size / CHUNK_DATA));
}

/** @returns {number} a random u32 that is not 0 */
function randomTID() {
  let t = 0;
  while (t === 0) t = new DataView(randomBytes(4).buffer).getUint32(0);
  return t;
}

/**
 * Make the manifest of data: a fresh file key and transfer id, and the
 * SHA-256 of the whole file.
 * @param {Uint8Array} data the whole file
 * @param {{name: string, type: string, voice?: boolean, limit?: number}} o
 * @returns {Promise<{manifest: Manifest, key: Uint8Array}>} key: the raw file key (the caller zeroes it)
 */
export async function newManifest(data, o) {
  const limit = o.limit ?? MAX_FILE;
  if (data.length > limit) throw new FileError(`the file is ${formatSize(data.length)}; the limit is ${formatSize(limit)}`);
  const key = randomBytes(32);
  /** @type {Manifest} */
  const manifest = {
    tid: randomTID(),
    name: sanitizeName(o.name),
    type: cleanType(o.type),
    size: data.length,
    chunks: chunksFor(data.length),
    sha256: toHex(await sha256(data)),
    key: b64url(key),
  };
  if (o.voice) manifest.voice = true;
  return { manifest, key };
}

/**
 * Judge a manifest a peer sent (8.1) and import its key. The name comes
 * back sanitised and the type cleaned; anything malformed, or a size over
 * limit, throws a FileError saying what.
 * @param {unknown} m
 * @param {number} [limit]
 * @returns {Promise<{manifest: Manifest, key: CryptoKey}>}
 */
export async function checkManifest(m, limit = MAX_FILE) {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new FileError('the manifest is not an object');
  const o = /** @type {Record<string, unknown>} */ (m);
  const { tid, size, chunks, sha256: sum, key } = o;
  if (typeof tid !== 'number' || !Number.isInteger(tid) || tid < 1 || tid > 0xffffffff) {
    throw new FileError('the manifest has no valid transfer id');
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw new FileError('the manifest has no valid size');
  if (size > limit) {
    throw new FileError(`it is ${formatSize(size)}, over this client's limit of ${formatSize(limit)}`);
  }
  if (chunks !== chunksFor(size)) throw new FileError('the chunk count does not match the size');
  if (typeof sum !== 'string' || !/^[0-9a-fA-F]{64}$/.test(sum)) throw new FileError('the manifest has no valid SHA-256');
  let raw;
  try {
    raw = typeof key === 'string' ? fromB64url(key) : null;
  } catch {
    raw = null;
  }
  if (!raw || raw.length !== 32) throw new FileError('the manifest has no valid file key');
  if (o.voice !== undefined && typeof o.voice !== 'boolean') throw new FileError('the manifest\'s voice mark is not true or false');
  const k = await aesKey(raw);
  raw.fill(0);
  /** @type {Manifest} */
  const manifest = {
    tid,
    name: sanitizeName(typeof o.name === 'string' ? o.name : ''),
    type: cleanType(typeof o.type === 'string' ? o.type : ''),
    size,
    chunks,
    sha256: sum.toLowerCase(),
    key: '',
  };
  if (o.voice === true) manifest.voice = true;
  return { manifest, key: k };
}

/**
 * Seal chunk index of a file (8.2): the bytes [65532·index, 65532·(index+1))
 * of data, padded, under the file key, with the header as associated data,
 * signed by the sender.
 * @param {{rid: Uint8Array, sender: number, to?: number, tid: number, index: number, chunks: number,
 *          key: CryptoKey, edPriv: CryptoKey, data: Uint8Array, nonce?: Uint8Array}} o
 *        data: the whole file
 * @returns {Promise<Uint8Array>} the envelope
 */
export async function sealChunk(o) {
  if (o.index < 0 || o.index >= o.chunks) throw new Error(`chunk ${o.index} of ${o.chunks}`);
  const header = encodeChunkHeader({
    rid: o.rid, sender: o.sender, to: o.to ?? 0, tid: o.tid, index: o.index, last: o.index === o.chunks - 1,
  });
  const part = o.data.subarray(Math.min(o.index * CHUNK_DATA, o.data.length), Math.min((o.index + 1) * CHUNK_DATA, o.data.length));
  const padded = pad(part);
  try {
    return await sealBody(header, o.key, padded, o.edPriv, o.nonce);
  } finally {
    padded.fill(0);
  }
}

/**
 * A file being received: takes its chunks in order and, with the last,
 * checks the whole file's SHA-256. Its state changes only when a chunk
 * passed every check; a FileError means the transfer is over (the caller
 * drops it and everything it held).
 */
export class Incoming {
  /**
   * @param {Manifest} manifest  as checkManifest returned it
   * @param {CryptoKey} key      the file key
   * @param {{edPub: Uint8Array|CryptoKey, dm: boolean}} o  the sender's key; whether the manifest came in a DM
   */
  constructor(manifest, key, o) {
    this.manifest = manifest;
    this.key = key;
    this.edPub = o.edPub;
    this.dm = o.dm;
    /** index of the next chunk due */
    this.next = 0;
    /** bytes taken so far */
    this.received = 0;
    /** @type {Uint8Array[]|null} the plaintext so far, by chunk */
    this.parts = [];
  }

  /**
   * Take the next chunk. Resolves to null while more are due, and to the
   * whole, verified file with the last one.
   * @param {Uint8Array} env
   * @param {import('./protocol.js').Header} h
   * @returns {Promise<Uint8Array|null>}
   */
  async take(env, h) {
    const m = this.manifest;
    if (!this.parts) throw new FileError('the transfer is over');
    if (h.version !== VERSION || h.suite !== SUITE2 || h.kind !== KIND_CHUNK) throw new FileError('a chunk has a bad header');
    if (h.epoch !== m.tid) throw new FileError('a chunk of another file arrived in its place');
    const idx = Number(h.seq) - 1;
    if (h.seq === 0n || idx !== this.next) {
      throw new FileError(`chunk ${h.seq} arrived where chunk ${this.next + 1} was due (reordered, duplicated or lost)`);
    }
    const last = idx === m.chunks - 1;
    if (h.flags !== (last ? FLAG_LAST : 0)) {
      throw new FileError('the last-chunk mark is wrong (the file was truncated or extended)');
    }
    if ((h.to !== 0) !== this.dm) throw new FileError('a chunk changed between the room and a direct message');
    if (!(await verifyEnvelope(env, this.edPub))) throw new FileError('a chunk has a bad signature');
    let data;
    try {
      data = await decryptEnvelope(env, this.key);
    } catch {
      throw new FileError('a chunk does not open (it was altered)');
    }
    const want = Math.min(CHUNK_DATA, m.size - idx * CHUNK_DATA);
    if (data.length !== want) throw new FileError('a chunk has the wrong length');
    if (!this.parts) throw new FileError('the transfer is over');
    this.parts.push(data);
    this.received += data.length;
    this.next++;
    if (!last) return null;
    const parts = this.parts;
    this.parts = null;
    const whole = new Uint8Array(m.size);
    let off = 0;
    for (const p of parts) {
      whole.set(p, off);
      off += p.length;
    }
    parts.length = 0;
    if (toHex(await sha256(whole)) !== m.sha256) {
      whole.fill(0);
      throw new FileError('the file\'s SHA-256 does not match its manifest');
    }
    return whole;
  }

  /** Drop what was received. */
  discard() {
    if (this.parts) for (const p of this.parts) p.fill(0);
    this.parts = null;
  }
}

// ---------------------------------------------------------------- names and types

/**
 * A file name a peer sent, made safe to show and to save: no control or
 * format characters (so no direction overrides that turn "gpj.exe" around),
 * no path separators or characters Windows refuses, no leading dots, at
 * most MAX_NAME code points (the extension kept when it is short), and
 * "file" if nothing is left.
 * @param {string} name
 * @returns {string}
 */
export function sanitizeName(name) {
  let s = String(name ?? '').normalize('NFC');
  s = s.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}]/gu, '');
  s = s.replace(/[/\\:*?"<>|]/g, '_');
  s = s.replace(/\s+/gu, ' ').trim();
  s = s.replace(/^[.\s]+/u, '').replace(/[.\s]+$/u, '');
  const cps = Array.from(s);
  if (cps.length > MAX_NAME) {
    const dot = s.lastIndexOf('.');
    const ext = dot > 0 ? Array.from(s.slice(dot)) : [];
    if (ext.length > 1 && ext.length <= 16) s = cps.slice(0, MAX_NAME - ext.length).join('').trimEnd() + ext.join('');
    else s = cps.slice(0, MAX_NAME).join('').trimEnd();
  }
  return s === '' ? 'file' : s;
}

/**
 * A MIME type kept only as a hint: lower case, type/subtype characters
 * only, else ''.
 * @param {string} t
 * @returns {string}
 */
function cleanType(t) {
  const s = String(t ?? '').trim().toLowerCase().slice(0, MAX_TYPE);
  return /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*(;[ -~]*)?$/.test(s) ? s : '';
}

/**
 * @typedef {{kind: 'image'|'audio'|'video', type: string}} Media
 */

/**
 * @param {Uint8Array} b
 * @param {number} at
 * @param {string} ascii
 */
function has(b, at, ascii) {
  if (b.length < at + ascii.length) return false;
  for (let i = 0; i < ascii.length; i++) if (b[at + i] !== ascii.charCodeAt(i)) return false;
  return true;
}

/**
 * What a file is, by its first bytes: a picture the page may show (PNG,
 * JPEG, WebP, GIF), or audio or video the browser's players may play
 * (WebM/Matroska, Ogg, MP4, MP3, WAV, FLAC). The declared type (or a voice
 * note mark) only decides between audio and video for containers that hold
 * either. Anything else (SVG and HTML included, whatever they are named) is
 * null: offered as a download only.
 * @param {Uint8Array} b the file (only its first bytes are read)
 * @param {string} [declared] the manifest's type
 * @param {boolean} [voice]
 * @returns {Media|null}
 */
export function sniff(b, declared = '', voice = false) {
  const video = !voice && declared.startsWith('video/');
  if (has(b, 0, '\x89PNG\r\n\x1a\n')) return { kind: 'image', type: 'image/png' };
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return { kind: 'image', type: 'image/jpeg' };
  if (has(b, 0, 'GIF87a') || has(b, 0, 'GIF89a')) return { kind: 'image', type: 'image/gif' };
  if (has(b, 0, 'RIFF') && has(b, 8, 'WEBP')) return { kind: 'image', type: 'image/webp' };
  if (has(b, 0, 'RIFF') && has(b, 8, 'WAVE')) return { kind: 'audio', type: 'audio/wav' };
  if (has(b, 0, 'fLaC')) return { kind: 'audio', type: 'audio/flac' };
  if (b.length >= 4 && b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) {
    return video ? { kind: 'video', type: 'video/webm' } : { kind: 'audio', type: 'audio/webm' };
  }
  if (has(b, 0, 'OggS')) return video ? { kind: 'video', type: 'video/ogg' } : { kind: 'audio', type: 'audio/ogg' };
  if (has(b, 4, 'ftyp')) {
    return video || !declared.startsWith('audio/') ? { kind: 'video', type: 'video/mp4' } : { kind: 'audio', type: 'audio/mp4' };
  }
  if (has(b, 0, 'ID3')) return { kind: 'audio', type: 'audio/mpeg' };
  if (b.length >= 2 && b[0] === 0xff && (b[1] & 0xe6) === 0xe2 && (b[1] & 0x18) !== 0x08) {
    // an MPEG audio frame sync (layer III, any version but the reserved one)
    return { kind: 'audio', type: 'audio/mpeg' };
  }
  return null;
}

/**
 * A size for a person: "812 B", "64.0 KiB", "5.0 MiB".
 * @param {number} n bytes
 * @returns {string}
 */
export function formatSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  return `${(n / (1024 * 1024 * 1024)).toFixed(1)} GiB`;
}
