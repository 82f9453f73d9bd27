// @ts-check
// transfers.js: this tab's file transfers (docs/protocol.md section 8):
// sending a file (its manifest as a group or direct message, then its
// chunks one by one, paced by the socket's buffer, which the relay drains
// no faster than its room rate), and receiving one (the manifest starts a
// transfer, its chunks go through file.js's Incoming, and only a file whose
// SHA-256 matched is offered, as a Blob of a checked type). room.js owns one
// Transfers and hands it manifests, chunks, ERROR frames about files and
// members leaving; what it needs of the room is TransferHost. It reports
// through the room's 'transfer' event. No DOM, no storage.

import { FILE_ERROR, encodeEnvelopeFrame } from './protocol.js';
import { enc, bs } from './bytes.js';
import { subtle, aesKey } from './primitives.js';
import {
  CHUNK_DATA, MAX_FILE, FileError, Incoming, checkManifest, newManifest, sealChunk, sniff, formatSize, sanitizeName,
} from './file.js';

/** Wait while the socket holds more than this many bytes not yet sent. */
export const HIGH_WATER = 1 << 20;
/** A receive with no chunk for this long has stopped: the sender cancelled or went away. */
const STALL_MS = 30000;
/** At most one progress event per transfer this often. */
const PROGRESS_MS = 100;
/** How long a file to a member waits for its DM session. */
const DM_WAIT_MS = 16000;
/** Receives in progress at once; a manifest past this fails at once. */
const MAX_INCOMING = 32;
/** Transfer keys remembered after they ended, so their late chunks are dropped quietly. */
const MAX_DEAD = 256;

/**
 * What a message with a file shows (Message.file), kept up to date by
 * Transfers; the 'transfer' event says when it changed.
 * @typedef {object} FileState
 * @property {'out'|'in'} dir
 * @property {string} name          sanitised (file.js)
 * @property {number} size
 * @property {string} type          as the sender declared it: a hint only
 * @property {boolean} voice        a recorded voice note
 * @property {'sending'|'receiving'|'done'|'failed'|'cancelled'} state
 * @property {number} done          bytes sent (handed to the socket) or received so far
 * @property {string} [error]       why it failed, for a person
 * @property {Blob} [blob]          once done: the file; its type is the checked media type, else application/octet-stream
 * @property {import('./file.js').Media|null} [media]  what the first bytes say it is (null: a download only)
 */

/**
 * The parts of a member (room.js's Member) transfers use.
 * @typedef {import('./dm.js').DMPeer & {fingerprint: string, self: boolean}} FilePeer
 */

/**
 * What Transfers uses of its room (room.js's Room).
 * @typedef {object} TransferHost
 * @property {import('./e2ee.js').Room|null} keys
 * @property {import('./e2ee.js').Identity|null} identity
 * @property {number} session                  our session id
 * @property {string} status
 * @property {import('./socket.js').Conn|null} conn
 * @property {Map<number, FilePeer>} members
 * @property {number} rejected                 count of envelopes refused
 * @property {import('./dm.js').DMSessions} dm
 * @property {import('./senderkeys.js').SenderKeys} senderKeys
 * @property {<T>(fn: () => Promise<T>) => Promise<T>} serial
 * @property {(type: string, detail: object) => void} emit
 * @property {(msg: any) => void} addMessage
 * @property {() => string} newID
 */

/**
 * @typedef {object} OutRecord
 * @property {string} id        the message id
 * @property {FileState} file
 * @property {number} to        0 (room) or the DM peer
 * @property {boolean} stop     cancelled, or the room ended
 * @property {number} lastEmit
 */

/**
 * @typedef {object} InRecord
 * @property {string} id        the message id
 * @property {string} key       sender:tid
 * @property {number} from      the sender's session
 * @property {FileState} file
 * @property {Incoming} inc
 * @property {ReturnType<typeof setTimeout>|null} timer  the stall timer
 * @property {number} lastEmit
 */

/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * @param {number} sender
 * @param {number} tid
 */
const transferKey = (sender, tid) => `${sender}:${tid}`;

/** The file transfers of one room membership. */
export class Transfers {
  /** @param {TransferHost} room */
  constructor(room) {
    this.room = room;
    /** @type {Map<string, OutRecord>} by message id */
    this.outgoing = new Map();
    /** @type {Map<string, InRecord>} by sender:tid */
    this.incoming = new Map();
    /** @type {Set<string>} sender:tid of receives that ended early */
    this.dead = new Set();
  }

  /**
   * @param {string} id
   * @param {FileState} file
   */
  changed(id, file) {
    this.room.emit('transfer', { id, file });
  }

  // ------------------------------------------------------------ sending

  /**
   * Send a file to the room, or to one member (o.to) in a DM, setting the
   * DM session up first if there is none. The message shows (with its
   * FileState) once the manifest went out; the chunks follow, never more
   * than HIGH_WATER bytes ahead of the socket. Resolves once the manifest
   * is sent, with the message id; the chunks go on in the background
   * ('transfer' events tell how far).
   * @param {Blob} blob
   * @param {{name: string, type?: string, voice?: boolean, to?: number|null, ttl?: number, caption?: string}} o
   * @returns {Promise<string>}
   */
  async send(blob, o) {
    const room = this.room;
    const name = sanitizeName(o.name);
    if (blob.size > MAX_FILE) {
      throw new Error(`"${name}" is ${formatSize(blob.size)}: files over ${formatSize(MAX_FILE)} cannot be sent.`);
    }
    if (room.status !== 'joined' || !room.conn?.open) throw new Error('Not connected: the file was not sent.');
    /** @type {FilePeer|undefined} */
    let peer;
    if (o.to) {
      peer = room.members.get(o.to);
      if (!peer || peer.self) throw new Error('That member has left; the file was not sent.');
      await this.dmReady(peer);
    }
    const data = new Uint8Array(await blob.arrayBuffer());
    const { manifest, key: raw } = await newManifest(data, { name, type: o.type ?? blob.type, voice: o.voice });
    const key = await aesKey(raw);
    raw.fill(0);
    const id = room.newID();
    /** @type {Record<string, unknown>} */
    const payload = { id, body: o.caption ?? '', file: manifest };
    if (o.ttl) payload.ttl = o.ttl;
    /** @type {FileState} */
    const file = {
      dir: 'out', name: manifest.name, size: manifest.size, type: manifest.type, voice: !!manifest.voice,
      state: 'sending', done: 0,
    };
    /** @type {OutRecord} */
    const rec = { id, file, to: peer?.session ?? 0, stop: false, lastEmit: 0 };
    const conn = await room.serial(async () => {
      const c = room.conn;
      if (room.status !== 'joined' || !c?.open) throw new Error('Not connected: the file was not sent.');
      const plain = enc.encode(JSON.stringify(payload));
      const me = /** @type {FilePeer} */ (room.members.get(room.session));
      /** @type {Record<string, unknown>} */
      const msg = {
        id, kind: 'msg', at: new Date(), body: payload.body, ttl: payload.ttl, file,
        from: { session: me.session, alias: me.display, fingerprint: me.fingerprint, self: true },
      };
      if (peer) {
        const s = room.dm.get(peer.session);
        if (!s || s.state !== 'ready' || !(await room.dm.sealDM(peer, s, plain))) {
          throw new Error('The direct session is gone: the file was not sent.');
        }
        msg.kind = 'dm';
        msg.to = { session: peer.session, alias: peer.display };
        msg.peer = { session: peer.session, alias: peer.display };
      } else {
        const env = await room.senderKeys.sealGroup(plain);
        if (!c.send(encodeEnvelopeFrame(env))) throw new Error('Not connected: the file was not sent.');
      }
      plain.fill(0);
      this.outgoing.set(id, rec);
      room.addMessage(msg);
      return c;
    });
    this.pump(rec, conn, manifest, key, data, blob).catch((err) => {
      this.endOut(rec, 'failed', err instanceof Error ? err.message : String(err));
    });
    return id;
  }

  /**
   * Send the chunks of a file whose manifest went out on conn.
   * @param {OutRecord} rec
   * @param {import('./socket.js').Conn} conn
   * @param {import('./file.js').Manifest} manifest
   * @param {CryptoKey} key
   * @param {Uint8Array} data
   * @param {Blob} blob
   */
  async pump(rec, conn, manifest, key, data, blob) {
    const room = this.room;
    const lost = () => room.conn !== conn || !conn.open;
    for (let i = 0; i < manifest.chunks; i++) {
      while (!rec.stop && !lost() && conn.buffered > HIGH_WATER) await sleep(5);
      if (rec.stop) return;
      if (lost()) throw new Error('the connection was lost');
      const identity = room.identity;
      const keys = room.keys;
      if (!identity || !keys) return;
      const env = await sealChunk({
        rid: keys.rid, sender: room.session, to: rec.to, tid: manifest.tid, index: i, chunks: manifest.chunks,
        key, edPriv: identity.edPriv, data,
      });
      if (rec.stop) return;
      if (lost() || !conn.send(encodeEnvelopeFrame(env))) throw new Error('the connection was lost');
      rec.file.done = Math.min(manifest.size, (i + 1) * CHUNK_DATA);
      this.progress(rec);
    }
    // Sent once the relay has read it all.
    while (!rec.stop && !lost() && conn.buffered > 0) await sleep(20);
    if (rec.stop) return;
    if (lost()) throw new Error('the connection was lost');
    const media = sniff(data.subarray(0, 64), manifest.type, !!manifest.voice);
    rec.file.media = media;
    rec.file.blob = blob.slice(0, blob.size, media ? media.type : 'application/octet-stream');
    this.endOut(rec, 'done');
  }

  /**
   * @param {OutRecord|InRecord} rec
   */
  progress(rec) {
    const now = performance.now();
    if (now - rec.lastEmit < PROGRESS_MS) return;
    rec.lastEmit = now;
    this.changed(rec.id, rec.file);
  }

  /**
   * @param {OutRecord} rec
   * @param {'done'|'failed'|'cancelled'} state
   * @param {string} [why]
   */
  endOut(rec, state, why) {
    if (this.outgoing.get(rec.id) !== rec) return;
    this.outgoing.delete(rec.id);
    rec.stop = true;
    rec.file.state = state;
    if (why) rec.file.error = why;
    this.changed(rec.id, rec.file);
  }

  /**
   * Wait until the DM session with peer is ready, offering one if there is none.
   * @param {FilePeer} peer
   */
  async dmReady(peer) {
    const room = this.room;
    if (room.dm.get(peer.session)?.state === 'ready') return;
    await room.serial(async () => {
      if (!room.dm.get(peer.session)) await room.dm.offerDM(peer);
    });
    const deadline = performance.now() + DM_WAIT_MS;
    for (;;) {
      const s = room.dm.get(peer.session);
      if (s?.state === 'ready') return;
      if (!s || !room.members.has(peer.session) || performance.now() > deadline) {
        throw new Error(`${peer.display} did not answer the request for a direct session: the file was not sent.`);
      }
      await sleep(50);
    }
  }

  // ------------------------------------------------------------ receiving

  /**
   * A message with a file object arrived from a member: check the manifest
   * and start the transfer. Never throws: a manifest that fails its checks
   * gives a FileState in state 'failed' saying why.
   * @param {string} id      the message id
   * @param {unknown} raw    the message's "file"
   * @param {FilePeer} from
   * @param {boolean} dm     whether it came in a direct message
   * @returns {Promise<FileState>}
   */
  async onManifest(id, raw, from, dm) {
    const r = /** @type {Record<string, unknown>} */ (raw && typeof raw === 'object' ? raw : {});
    /** @type {FileState} */
    const file = {
      dir: 'in',
      name: sanitizeName(typeof r.name === 'string' ? r.name : ''),
      size: typeof r.size === 'number' && Number.isSafeInteger(r.size) && r.size >= 0 ? r.size : 0,
      type: '',
      voice: r.voice === true,
      state: 'receiving',
      done: 0,
    };
    let checked;
    try {
      checked = await checkManifest(raw);
    } catch (e) {
      return failed(file, e);
    }
    const { manifest, key } = checked;
    Object.assign(file, { name: manifest.name, size: manifest.size, type: manifest.type, voice: !!manifest.voice });
    const tk = transferKey(from.session, manifest.tid);
    if (this.incoming.has(tk) || this.dead.has(tk)) return failed(file, new FileError('its transfer id is already in use'));
    if (this.incoming.size >= MAX_INCOMING) return failed(file, new FileError('too many files are arriving at once'));
    const edPub = await subtle.importKey('raw', bs(from.edPub), { name: 'Ed25519' }, false, ['verify']);
    /** @type {InRecord} */
    const rec = {
      id, key: tk, from: from.session, file, inc: new Incoming(manifest, key, { edPub, dm }), timer: null, lastEmit: 0,
    };
    this.incoming.set(tk, rec);
    this.armStall(rec);
    return file;
  }

  /** @param {InRecord} rec */
  armStall(rec) {
    if (rec.timer) clearTimeout(rec.timer);
    rec.timer = setTimeout(() => {
      this.room.serial(async () => {
        this.endIn(rec, 'failed', 'the sender stopped sending it (cancelled, or the connection was lost)');
      });
    }, STALL_MS);
  }

  /**
   * A kind-6 envelope (the room checked rid, sender and flags' shape).
   * @param {Uint8Array} env
   * @param {import('./protocol.js').Header} h
   * @param {FilePeer} from
   */
  async onChunk(env, h, from) {
    const tk = transferKey(from.session, h.epoch);
    const rec = this.incoming.get(tk);
    if (!rec) {
      if (!this.dead.has(tk)) this.room.rejected++; // a chunk of a file we never heard of
      return;
    }
    if (h.to !== 0 && h.to !== this.room.session) {
      this.room.rejected++;
      return;
    }
    let whole;
    try {
      whole = await rec.inc.take(env, h);
    } catch (e) {
      this.endIn(rec, 'failed', e instanceof FileError ? e.message : 'a chunk could not be read');
      return;
    }
    if (this.incoming.get(tk) !== rec) return; // cancelled meanwhile
    rec.file.done = rec.inc.received;
    if (!whole) {
      this.armStall(rec);
      this.progress(rec);
      return;
    }
    const media = sniff(whole.subarray(0, 64), rec.file.type, rec.file.voice);
    rec.file.media = media;
    rec.file.blob = new Blob([bs(whole)], { type: media ? media.type : 'application/octet-stream' });
    this.endIn(rec, 'done');
  }

  /**
   * @param {InRecord} rec
   * @param {'done'|'failed'|'cancelled'} state
   * @param {string} [why]
   */
  endIn(rec, state, why) {
    if (this.incoming.get(rec.key) !== rec) return;
    this.incoming.delete(rec.key);
    if (rec.timer) clearTimeout(rec.timer);
    rec.timer = null;
    rec.inc.discard();
    if (state !== 'done') {
      this.dead.add(rec.key);
      if (this.dead.size > MAX_DEAD) this.dead.delete(/** @type {string} */ (this.dead.values().next().value));
    }
    rec.file.state = state;
    if (why) rec.file.error = why;
    this.changed(rec.id, rec.file);
  }

  // ------------------------------------------------------------ events from the room

  /**
   * Stop a transfer: no more chunks go out, or what arrived is discarded.
   * @param {string} id the message id
   */
  cancel(id) {
    const out = this.outgoing.get(id);
    if (out) this.endOut(out, 'cancelled');
    for (const rec of this.incoming.values()) {
      if (rec.id === id) this.endIn(rec, 'cancelled');
    }
  }

  /**
   * An ERROR frame from the relay; returns whether it was about files.
   * @param {number} code
   * @param {string} reason
   * @returns {boolean}
   */
  onError(code, reason) {
    const r = reason.slice(0, 200);
    if (code === FILE_ERROR.SKIPPED) {
      // The relay does not say which transfer; a skipped chunk breaks each one running.
      for (const rec of Array.from(this.incoming.values())) {
        this.endIn(rec, 'failed', `the server skipped part of it (${r || 'this browser was reading too slowly'})`);
      }
      return true;
    }
    if (code === FILE_ERROR.TOO_LARGE) {
      for (const rec of Array.from(this.outgoing.values())) {
        this.endOut(rec, 'failed', `the server refused it (${r || 'file too large'})`);
      }
      return true;
    }
    return false;
  }

  /**
   * A member left: its files stop arriving, and files to it stop going.
   * @param {number} session
   */
  memberLeft(session) {
    for (const rec of Array.from(this.incoming.values())) {
      if (rec.from === session) this.endIn(rec, 'failed', 'the sender left before the file was complete');
    }
    for (const rec of Array.from(this.outgoing.values())) {
      if (rec.to === session) this.endOut(rec, 'failed', 'the recipient left');
    }
  }

  /**
   * A message vanished (self-destruct): its transfer ends and its file goes.
   * @param {string} id
   * @param {FileState} [file]
   */
  vanish(id, file) {
    this.cancel(id);
    if (file) delete file.blob;
  }

  /** Stop everything and forget every file (the room is over for this tab). */
  wipe() {
    for (const rec of this.outgoing.values()) rec.stop = true;
    this.outgoing.clear();
    for (const rec of this.incoming.values()) {
      if (rec.timer) clearTimeout(rec.timer);
      rec.inc.discard();
    }
    this.incoming.clear();
    this.dead.clear();
  }
}

/**
 * @param {FileState} file
 * @param {unknown} e
 * @returns {FileState}
 */
function failed(file, e) {
  file.state = 'failed';
  file.error = e instanceof FileError ? e.message : 'its manifest could not be read';
  return file;
}
