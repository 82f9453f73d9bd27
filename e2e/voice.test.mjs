// Voice notes (issue 5): Chromium with a fake microphone records about two
// seconds through the Voice button (a running timer, Stop and send), and
// the other browser context gets an <audio> player whose blob: URL loads
// and plays for more than a second; the manifest says "voice": true. Cancel
// discards a recording: nothing is sent.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, cleanBuild } from './lib/server.mjs';
import {
  launch, newUser, createRoom, joinRoom, members, send, testLink, waitForMessage, waitUntil,
} from './lib/browser.mjs';
import { files, waitForFile } from './lib/files.mjs';
import { axeViolations } from './lib/axe.mjs';

/** @type {import('./lib/server.mjs').Server} */
let srv;
/** @type {import('playwright-core').Browser} */
let browser;

before(async () => {
  srv = await startServer();
  browser = await launch({ fakeMedia: true });
});

after(async () => {
  await browser?.close();
  await srv?.stop();
  await cleanBuild();
});

test('a voice note recorded with a fake microphone plays in the other browser; Cancel sends nothing', { timeout: 90000 }, async () => {
  const a = await newUser(browser);
  const b = await newUser(browser);
  const { link } = await createRoom(a.page, srv.url, { name: 'voices' });
  await joinRoom(a.page, testLink(link), { alias: 'alice' });
  await joinRoom(b.page, testLink(link), { alias: 'bob' });
  for (const u of [a, b]) {
    await waitUntil(async () => (await members(u.page)).length === 2, { message: 'two members listed' });
  }

  // Record: the panel shows a running timer; Stop sends.
  await a.page.click('#voice');
  await a.page.locator('#recorder').waitFor();
  assert.equal(await a.page.getAttribute('#recorder-time', 'role'), 'timer');
  await waitUntil(async () => (await a.page.textContent('#recorder-time')) === '00:02', { timeout: 10000, message: 'the timer runs to 00:02' });
  assert.deepEqual(await axeViolations(a.page), [], 'axe while recording');
  await a.page.click('#recorder-stop');
  await a.page.locator('#recorder').waitFor({ state: 'hidden' });

  const note = await waitForFile(b.page, { states: ['done'], timeout: 20000 });
  assert.equal(note.voice, true, 'the manifest says voice');
  assert.equal(note.name, 'Voice note');
  assert.match(note.audio, /^blob:/, 'an <audio> player on a blob: URL');
  const played = await b.page.locator(`li[data-id="${note.id}"] audio[data-testid=file-audio]`).evaluate(async (el) => {
    const audio = /** @type {HTMLAudioElement} */ (el);
    /** @param {string} type */
    const once = (type) => new Promise((resolve, reject) => {
      audio.addEventListener(type, resolve, { once: true });
      audio.addEventListener('error', () => reject(new Error(`media error ${audio.error?.code}: ${audio.error?.message}`)), { once: true });
    });
    if (audio.readyState < 1) await once('loadedmetadata');
    // MediaRecorder's WebM has no duration in its header: seeking far makes
    // the browser read to the end and learn it.
    if (!Number.isFinite(audio.duration)) {
      const known = once('durationchange');
      audio.currentTime = 1e6;
      await known;
      audio.currentTime = 0;
    }
    audio.muted = true;
    await audio.play();
    await new Promise((r) => setTimeout(r, 300));
    const t = audio.currentTime;
    audio.pause();
    return { duration: audio.duration, playedTo: t, error: audio.error?.code ?? 0 };
  });
  console.log(`# voice note: ${played.duration.toFixed(2)} s long, played to ${played.playedTo.toFixed(2)} s`);
  assert.equal(played.error, 0);
  assert.deepEqual(await axeViolations(b.page), [], 'axe with a voice note');
  assert.ok(played.duration > 1 && played.duration < 30, `duration ${played.duration} s`);
  assert.ok(played.playedTo > 0, `it played (to ${played.playedTo} s)`);
  const own = await waitForFile(a.page, { self: true, states: ['done'] });
  assert.equal(own.voice, true);
  assert.match(own.audio, /^blob:/, 'the sender can listen to it too');

  // Cancel discards the recording.
  await a.page.click('#voice');
  await a.page.locator('#recorder').waitFor();
  await waitUntil(async () => (await a.page.textContent('#recorder-time')) === '00:01', { timeout: 10000, message: 'the timer runs' });
  await a.page.click('#recorder-cancel');
  await a.page.locator('#recorder').waitFor({ state: 'hidden' });
  // A message after it arrives after anything sent before it.
  await send(a.page, 'after the cancelled note');
  await waitForMessage(b.page, 'after the cancelled note');
  assert.equal((await files(a.page)).length, 1, 'nothing more was sent');
  assert.equal((await files(b.page)).length, 1, 'nothing more arrived');
  assert.deepEqual(a.errors.concat(b.errors), []);
  await a.context.close();
  await b.context.close();
});
