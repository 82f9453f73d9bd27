// @ts-check
// socket.js: the network edge of the web client. One WebSocket to the relay
// (binary frames in, decoded server frames out), reconnect back-off, and the
// two small HTTP calls (GET /api/config, POST /api/rooms). No DOM and no
// state beyond the socket itself: room.js decides when to join, resume or
// give up.

import { decodeServerFrame } from './protocol.js';
import { prove } from './pow.js';

/**
 * The WebSocket address of the relay serving this page.
 * @param {{protocol: string, host: string}} loc usually window.location
 * @returns {string}
 */
export function wsURL(loc) {
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/ws`;
}

/**
 * Back-off before reconnect attempt n (0-based): 0.5 s doubling to 8 s,
 * with up to 30% random jitter so a room does not reconnect in lockstep.
 * @param {number} attempt
 * @param {() => number} [rand]
 * @returns {number} milliseconds
 */
export function backoffDelay(attempt, rand = Math.random) {
  const base = Math.min(8000, 500 * 2 ** Math.max(0, attempt));
  return Math.round(base * (1 + 0.3 * rand()));
}

/**
 * Conn is one WebSocket to the relay. It sends first as soon as the socket
 * opens (JOIN or RESUME), then emits:
 *   'frame'  detail: a decoded ServerFrame (see protocol.js)
 *   'bad'    detail: {error} for a frame that did not decode (dropped)
 *   'close'  detail: {code, reason, wasClean}, exactly once
 * A Conn is used for one socket only; reconnecting makes a new Conn.
 */
export class Conn extends EventTarget {
  /**
   * @param {string} url
   * @param {Uint8Array} first the frame to send on open
   * @param {typeof WebSocket} [WS] injectable for tests
   */
  constructor(url, first, WS = WebSocket) {
    super();
    this.closed = false;
    this.ws = new WS(url);
    this.ws.binaryType = 'arraybuffer';
    this.ws.addEventListener('open', () => this.ws.send(first));
    this.ws.addEventListener('message', (ev) => {
      if (!(ev.data instanceof ArrayBuffer)) {
        this.dispatchEvent(new CustomEvent('bad', { detail: { error: new Error('text frame') } }));
        return;
      }
      let f;
      try {
        f = decodeServerFrame(ev.data);
      } catch (error) {
        this.dispatchEvent(new CustomEvent('bad', { detail: { error } }));
        return;
      }
      this.dispatchEvent(new CustomEvent('frame', { detail: f }));
    });
    this.ws.addEventListener('close', (ev) => {
      if (this.closed) return;
      this.closed = true;
      this.dispatchEvent(new CustomEvent('close', {
        detail: { code: ev.code, reason: ev.reason, wasClean: ev.wasClean },
      }));
    });
  }

  /** @returns {boolean} whether the socket is open for sending */
  get open() {
    return this.ws.readyState === 1;
  }

  /** @returns {number} bytes handed to the socket and not yet sent (WebSocket.bufferedAmount) */
  get buffered() {
    return this.ws.bufferedAmount;
  }

  /**
   * Send one binary frame. Returns false if the socket is not open.
   * @param {Uint8Array} frame
   * @returns {boolean}
   */
  send(frame) {
    if (!this.open) return false;
    this.ws.send(frame);
    return true;
  }

  /**
   * Close the socket from this side. No 'close' event is emitted after this
   * unless emit is true.
   * @param {number} [code]
   * @param {string} [reason]
   * @param {boolean} [emit]
   */
  close(code = 1000, reason = '', emit = false) {
    if (!emit) this.closed = true;
    try {
      this.ws.close(code, reason);
    } catch {
      // already closing
    }
  }
}

/**
 * @typedef {{max_ttl: number, default_ttl: number}} Config
 */

/**
 * GET /api/config.
 * @returns {Promise<Config>}
 */
export async function fetchConfig() {
  const res = await fetch('/api/config', { cache: 'no-store', credentials: 'omit' });
  if (!res.ok) throw new Error(`the server answered ${res.status} for its configuration`);
  const c = await res.json();
  if (!Number.isFinite(c?.max_ttl) || !Number.isFinite(c?.default_ttl)) {
    throw new Error('the server sent a malformed configuration');
  }
  return { max_ttl: c.max_ttl, default_ttl: c.default_ttl };
}

/**
 * POST /api/rooms. Resolves to the server's answer; rejects with an Error
 * carrying the server's human-readable reason.
 * When the relay asks for a proof of work (428), it is done and the
 * request sent again; o.onWork is told first so the page can say why it waits.
 * @param {{rid: string, verifier: string, owner: string, ttl: number, purge: 'anyone'|'owner', meta?: string}} body
 * @param {{onWork?: () => void}} [o]
 * @returns {Promise<{ttl: number, expires_in_ms: number}>}
 */
export async function postRoom(body, o = {}) {
  /** @param {string} [proof] */
  const post = (proof) => fetch('/api/rooms', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(proof ? { 'Veil-PoW': proof } : {}) },
    body: JSON.stringify(body),
    cache: 'no-store',
    credentials: 'omit',
  });
  let res = await post();
  if (res.status === 428) {
    // The relay asks for a proof of work (docs/protocol.md section 10).
    o.onWork?.();
    res = await post(await prove());
  }
  let answer = null;
  try {
    answer = await res.json();
  } catch {
    // not JSON: fall through to the status
  }
  if (!res.ok) {
    const why = typeof answer?.error === 'string' ? answer.error : `status ${res.status}`;
    throw new Error(`The server could not create the room: ${why}`);
  }
  return answer;
}
