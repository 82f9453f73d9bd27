// @ts-check
// ui/voice.js: recording a voice note with the browser's MediaRecorder
// (Opus in WebM where the browser has it): a panel with a running timer,
// Stop (send) and Cancel (discard). The recording stays in this tab's
// memory until it is sent as a file (docs/protocol.md 8, "voice": true) or
// dropped; the microphone is released as soon as recording ends.

import { el, formatCountdown } from './dom.js';

/** The longest voice note; recording stops and sends at this length. */
export const MAX_VOICE_MS = 10 * 60 * 1000;

/** Containers to record in, best first. */
const TYPES = ['audio/webm;codecs=opus', 'audio/webm', 'audio/ogg;codecs=opus', 'audio/mp4'];

/** @returns {boolean} whether this browser can record audio at all */
export function canRecord() {
  return typeof MediaRecorder !== 'undefined' && !!navigator.mediaDevices?.getUserMedia;
}

export class VoiceRecorder {
  /**
   * @param {{onDone: (blob: Blob) => void, onError: (text: string) => void, onState: (recording: boolean) => void}} o
   */
  constructor(o) {
    this.o = o;
    /** @type {MediaRecorder|null} */
    this.rec = null;
    /** @type {MediaStream|null} */
    this.stream = null;
    /** @type {Blob[]} */
    this.parts = [];
    this.started = 0;
    /** @type {ReturnType<typeof setInterval>|null} */
    this.ticker = null;
    this.send = false;
    this.time = el('span', { className: 'recorder-time', id: 'recorder-time', 'data-testid': 'recorder-time', role: 'timer', 'aria-live': 'off', text: '00:00' });
    this.stopButton = el('button', { type: 'button', className: 'primary', id: 'recorder-stop', 'data-testid': 'recorder-stop',
      text: 'Stop and send', on: { click: () => this.stop(true) } });
    this.panel = el('div', { className: 'recorder', id: 'recorder', 'data-testid': 'recorder', role: 'group',
      'aria-label': 'Recording a voice note', hidden: true },
    el('span', { className: 'recorder-dot', 'aria-hidden': 'true' }),
    el('span', { className: 'recorder-label', text: 'Recording ' }), this.time,
    el('span', { className: 'recorder-actions' },
      this.stopButton,
      el('button', { type: 'button', id: 'recorder-cancel', 'data-testid': 'recorder-cancel', text: 'Cancel',
        'aria-label': 'Cancel: discard the voice note', on: { click: () => this.stop(false) } })));
  }

  /** @returns {boolean} */
  get recording() {
    return this.rec !== null;
  }

  /** Ask for the microphone and start recording. */
  async start() {
    if (this.rec) return;
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (e) {
      const name = e instanceof Error ? e.name : '';
      this.o.onError(name === 'NotAllowedError'
        ? 'The microphone is blocked for this page: allow it in the browser to record a voice note.'
        : `The microphone is not available${name ? ` (${name})` : ''}.`);
      return;
    }
    const type = TYPES.find((t) => MediaRecorder.isTypeSupported(t));
    let rec;
    try {
      rec = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
    } catch {
      for (const t of stream.getTracks()) t.stop();
      this.o.onError('This browser cannot record audio.');
      return;
    }
    this.stream = stream;
    this.rec = rec;
    this.parts = [];
    this.send = false;
    rec.addEventListener('dataavailable', (ev) => {
      if (ev.data.size > 0) this.parts.push(ev.data);
    });
    rec.addEventListener('stop', () => this.finish(rec));
    rec.start(250);
    this.started = performance.now();
    this.tick();
    this.ticker = setInterval(() => this.tick(), 250);
    this.panel.hidden = false;
    this.o.onState(true);
    this.stopButton.focus();
  }

  tick() {
    const ms = performance.now() - this.started;
    this.time.textContent = formatCountdown(Math.floor(ms / 1000) * 1000);
    if (ms >= MAX_VOICE_MS) this.stop(true);
  }

  /**
   * Stop recording; send the note, or discard it.
   * @param {boolean} send
   */
  stop(send) {
    const rec = this.rec;
    if (!rec) return;
    this.send = send;
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    if (rec.state !== 'inactive') rec.stop();
    else this.finish(rec);
  }

  /**
   * The recorder has stopped and flushed its last data.
   * @param {MediaRecorder} rec
   */
  finish(rec) {
    if (this.rec !== rec) return;
    this.rec = null;
    for (const t of this.stream?.getTracks() ?? []) t.stop();
    this.stream = null;
    this.panel.hidden = true;
    this.o.onState(false);
    const parts = this.parts;
    this.parts = [];
    if (!this.send) return;
    const blob = new Blob(parts, { type: rec.mimeType || 'audio/webm' });
    if (blob.size === 0) {
      this.o.onError('The voice note was empty: nothing was recorded.');
      return;
    }
    this.o.onDone(blob);
  }

  /** Discard any recording and release the microphone. */
  destroy() {
    this.send = false;
    const rec = this.rec;
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    this.rec = null;
    this.parts = [];
    try {
      if (rec && rec.state !== 'inactive') rec.stop();
    } catch {
      // already stopped
    }
    for (const t of this.stream?.getTracks() ?? []) t.stop();
    this.stream = null;
  }
}
