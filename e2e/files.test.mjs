// Files in the browser (docs/protocol.md section 8, issue 5): a picture
// shows inline for the receiver with the very bytes sent; an SVG named x.png
// is never rendered; a 5 MiB binary arrives whole with a download link and
// progress bars on both ends; DM files reach only the DM peer; a file over
// 100 MiB is refused; Cancel works on both ends; a tampering relay (a tap
// on the receiver's socket) that drops, repeats or alters a chunk, or an
// ERROR 4011 from the relay, fails the file visibly and shows nothing; blob:
// URLs are revoked when their message goes. Then 50 MiB from the browser to
// a terminal member (`veil listen --save-dir`) and back (`veil send --file`),
// with equal SHA-256 both ways.
//
// Bytes are compared through the browser's own download of the blob: URL:
// under the page's Content-Security-Policy (connect-src 'self'), fetch() of
// a blob: URL is refused, and the tests keep the real policy.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm, readFile, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { promisify } from 'node:util';
import { startServer, buildServer, cleanBuild, ROOT } from './lib/server.mjs';
import { tapSocket } from './lib/tap.mjs';
import {
  launch, newUser, createRoom, joinRoom, startDM, members, stats, send, envelopes, testLink, waitForMessage, waitForNotice,
  waitUntil,
} from './lib/browser.mjs';
import { makePNG, randomFile, sha256, files, waitForFile, downloadOf } from './lib/files.mjs';
import { axeViolations } from './lib/axe.mjs';
import { encodeError } from '../internal/web/static/js/protocol.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

/** @type {import('./lib/server.mjs').Server} */
let srv;
/** @type {import('playwright-core').Browser} */
let browser;
/** @type {string} */
let veil;
/** @type {string} */
let dir;

before(async () => {
  srv = await startServer();
  browser = await launch();
  veil = await buildServer();
  dir = await mkdtemp(path.join(tmpdir(), 'veil-files-'));
});

after(async () => {
  await browser?.close();
  await srv?.stop();
  await cleanBuild();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * Two members in a fresh room on ?test pages; tapB routes bob's socket
 * through a tap (a relay the test can make tamper).
 * @param {{tapB?: boolean, frames?: boolean}} [o]
 */
async function pair(o = {}) {
  const a = await newUser(browser, { frames: o.frames });
  const b = await newUser(browser, { frames: o.frames });
  const tap = o.tapB ? await tapSocket(b.page) : null;
  const { link } = await createRoom(a.page, srv.url, { name: 'files' });
  await joinRoom(a.page, testLink(link), { alias: 'alice' });
  await joinRoom(b.page, testLink(link), { alias: 'bob' });
  for (const u of [a, b]) {
    await waitUntil(async () => (await members(u.page)).length === 2, { message: 'two members listed' });
  }
  return { a, b, link, tap };
}

/**
 * Start recording, in the page, whether a progress bar ever showed (the
 * bars come and go faster than a poll might look).
 * @param {import('playwright-core').Page} page
 */
function watchProgress(page) {
  return page.evaluate(() => {
    const w = /** @type {any} */ (window);
    w.__progressSeen = 0;
    new MutationObserver(() => {
      if (document.querySelector('#messages [data-testid=file-progress]')) w.__progressSeen++;
    }).observe(document.getElementById('messages') ?? document.body, { childList: true, subtree: true, attributes: true });
  });
}

/** @param {import('playwright-core').Page} page */
const progressSeen = (page) => page.evaluate(() => /** @type {any} */ (window).__progressSeen);

/**
 * axe finds nothing in light, dark and high-contrast schemes.
 * @param {import('playwright-core').Page} page
 * @param {string} view
 */
async function checkSchemes(page, view) {
  for (const [colorScheme, contrast] of /** @type {const} */ ([['light', 'no-preference'], ['dark', 'no-preference'], ['dark', 'more']])) {
    await page.emulateMedia({ colorScheme, contrast });
    assert.deepEqual(await axeViolations(page), [], `axe on ${view} (${colorScheme}, contrast ${contrast})`);
  }
  await page.emulateMedia({ colorScheme: 'light', contrast: 'no-preference' });
}

/**
 * Whether the blob: URL src still loads as a picture in page (a revoked
 * one does not).
 * @param {import('playwright-core').Page} page
 * @param {string} src
 */
function imageLoads(page, src) {
  return page.evaluate((u) => new Promise((resolve) => {
    const img = new Image();
    img.onload = () => resolve(true);
    img.onerror = () => resolve(false);
    img.src = u;
  }), src);
}

test('a picture shows inline with the same bytes; an SVG named x.png is not rendered; 5 MiB arrives whole with progress bars',
  { timeout: 120000 }, async () => {
    const { a, b } = await pair();
    /** @type {string[]} */
    const dialogs = [];
    for (const u of [a, b]) u.page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });

    // A real PNG: shown inline for the receiver, decoded at its size, the same bytes.
    const png = makePNG(96, 64);
    await a.page.setInputFiles('#file-input', { name: 'sunset.png', mimeType: 'image/png', buffer: png });
    const pic = await waitForFile(b.page, { name: 'sunset.png' });
    assert.match(pic.image, /^blob:/, 'the picture is shown from a blob: URL');
    assert.equal(pic.size, `${(png.length / 1024).toFixed(1)} KiB`);
    const dims = await b.page.locator(`li[data-id="${pic.id}"] img[data-testid=file-image]`).evaluate(async (img) => {
      const i = /** @type {HTMLImageElement} */ (img);
      if (!i.complete) await new Promise((r) => i.addEventListener('load', r, { once: true }));
      return [i.naturalWidth, i.naturalHeight];
    });
    assert.deepEqual(dims, [96, 64], 'the PNG decoded');
    const got = await downloadOf(b.page, pic.id);
    assert.equal(sha256(got.bytes), sha256(png), 'the receiver has the very bytes sent');
    assert.equal(got.name, 'sunset.png');
    // The sender sees its own picture too.
    const own = await waitForFile(a.page, { name: 'sunset.png', self: true });
    assert.match(own.image, /^blob:/);

    // An SVG (with script) named x.png and declared image/png: offered as a
    // download, never rendered, never run.
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="50" height="50" onload="alert(\'svg ran\')">'
      + '<script>alert("svg script ran")</script><rect width="50" height="50" fill="red"/></svg>');
    await a.page.setInputFiles('#file-input', { name: 'x.png', mimeType: 'image/png', buffer: svg });
    const fake = await waitForFile(b.page, { name: 'x.png' });
    assert.equal(fake.image, '', 'no <img> for an SVG named .png');
    assert.match(fake.download, /^blob:/, 'offered as a download');
    assert.equal(fake.downloadName, 'x.png');
    const li = b.page.locator(`li[data-id="${fake.id}"]`);
    assert.equal(await li.locator('img, svg:not(.icon), object, embed, iframe').count(), 0, 'nothing renders it');
    assert.equal(sha256((await downloadOf(b.page, fake.id)).bytes), sha256(svg));
    const senderFake = await waitForFile(a.page, { name: 'x.png', self: true });
    assert.equal(senderFake.image, '', 'not on the sender\'s screen either');

    // 5 MiB of random bytes from a file on disk: progress bars on both ends,
    // then equal SHA-256 and a download link with name and size.
    const big = path.join(dir, 'random-5MiB.bin');
    const sum = await randomFile(big, 5 * MiB);
    await watchProgress(a.page);
    await watchProgress(b.page);
    await a.page.setInputFiles('#file-input', big);
    const five = await waitForFile(b.page, { name: 'random-5MiB.bin', timeout: 30000 });
    assert.equal(five.size, '5.0 MiB');
    assert.equal(five.image + five.audio + five.video, '', 'random bytes are a download only');
    assert.match(five.download, /^blob:/);
    assert.equal(five.downloadName, 'random-5MiB.bin');
    assert.ok(await progressSeen(b.page) > 0, 'the receiver saw a progress bar');
    await waitForFile(a.page, { name: 'random-5MiB.bin', self: true, timeout: 30000 });
    assert.ok(await progressSeen(a.page) > 0, 'the sender saw a progress bar');
    const fiveBytes = (await downloadOf(b.page, five.id)).bytes;
    assert.equal(fiveBytes.length, 5 * MiB);
    assert.equal(sha256(fiveBytes), sum, 'the 5 MiB file arrived whole');

    assert.deepEqual(dialogs, [], 'no script ran');
    await checkSchemes(b.page, 'a room with a picture and downloads');
    await b.page.setViewportSize({ width: 360, height: 740 });
    await checkSchemes(b.page, 'the same at 360 px');
    assert.equal(await b.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth), 0,
      'no sideways scrolling at 360 px');
    assert.deepEqual((await stats(b.page)).files, { sending: 0, receiving: 0 });
    assert.deepEqual(a.errors.concat(b.errors), []);

    // Logging out revokes every blob: URL the page made.
    assert.ok(await imageLoads(b.page, pic.image), 'the picture URL works while its message is there');
    await b.page.click('#logout');
    await b.page.locator('#notice-view').waitFor();
    assert.equal(await imageLoads(b.page, pic.image), false, 'revoked once the screen was wiped');
    await a.context.close();
    await b.context.close();
  });

test('a file in a DM reaches only the DM peer; a self-destructing picture takes its blob: URL with it', { timeout: 90000 }, async () => {
  const { a, b, link } = await pair();
  const c = await newUser(browser);
  await joinRoom(c.page, testLink(link), { alias: 'carol' });
  await waitForNotice(a.page, 'carol joined');
  await waitForNotice(b.page, 'carol joined');

  await startDM(a.page, 'bob');
  const note = Buffer.from('for bob only\n');
  // By keyboard: from the composer, Tab reaches Attach; Enter opens the file chooser.
  // On a loaded machine Chromium has once let the chooser of an Enter go by:
  // each try starts again from the composer, with Attach focused.
  let chooser;
  for (let attempt = 1; !chooser; attempt++) {
    await a.page.focus('#message-input');
    for (let i = 0; i < 5 && !(await a.page.evaluate(() => document.activeElement?.id === 'attach')); i++) {
      await a.page.keyboard.press('Tab');
    }
    assert.equal(await a.page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Attach files (up to 100 MiB each)');
    try {
      [chooser] = await Promise.all([a.page.waitForEvent('filechooser', { timeout: 10000 }), a.page.keyboard.press('Enter')]);
    } catch (err) {
      if (attempt === 3) throw err;
    }
  }
  await chooser.setFiles({ name: 'secret.txt', mimeType: 'text/plain', buffer: note });
  const got = await waitForFile(b.page, { name: 'secret.txt' });
  const kind = await b.page.getAttribute(`li[data-id="${got.id}"]`, 'data-kind');
  assert.equal(kind, 'dm', 'it arrived as a direct message');
  assert.equal(sha256((await downloadOf(b.page, got.id)).bytes), sha256(note));
  // carol saw neither the manifest nor a chunk.
  await a.page.click('#dm-cancel');
  const png = makePNG(20, 20);
  await a.page.selectOption('#ttl-select', '10');
  await a.page.setInputFiles('#file-input', { name: 'brief.png', mimeType: 'image/png', buffer: png });
  const brief = await waitForFile(c.page, { name: 'brief.png' });
  assert.equal((await files(c.page)).filter((f) => f.name === 'secret.txt').length, 0, 'carol never saw the DM file');
  assert.equal((await stats(c.page)).rejected, 0, 'and no chunk of it reached her');
  // The picture self-destructs after 10 s: its message and its URL go.
  assert.ok(await imageLoads(c.page, brief.image));
  await waitUntil(async () => (await files(c.page)).every((f) => f.name !== 'brief.png'), { timeout: 20000, message: 'the picture vanished' });
  assert.equal(await imageLoads(c.page, brief.image), false, 'its blob: URL was revoked');
  for (const u of [a, b, c]) await u.context.close();
});

test('files dropped on the messages or pasted into the composer are sent; over 100 MiB is refused', { timeout: 60000 }, async () => {
  const { a, b } = await pair();
  // Drag and drop onto the message area: the drop target shows while dragging.
  const dropped = await a.page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['dropped bytes'], 'dropped.txt', { type: 'text/plain' }));
    const chat = /** @type {HTMLElement} */ (document.querySelector('.chat'));
    const target = /** @type {HTMLElement} */ (document.getElementById('messages'));
    target.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }));
    const shown = chat.classList.contains('drop-target');
    const over = new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true });
    target.dispatchEvent(over);
    target.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    return { shown, accepted: over.defaultPrevented, after: chat.classList.contains('drop-target') };
  });
  assert.deepEqual(dropped, { shown: true, accepted: true, after: false });
  const d = await waitForFile(b.page, { name: 'dropped.txt' });
  assert.equal((await downloadOf(b.page, d.id)).bytes.toString(), 'dropped bytes');
  // Paste into the composer: a pasted file is sent, the text box stays empty.
  await a.page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['pasted bytes'], 'pasted.txt', { type: 'text/plain' }));
    document.getElementById('message-input')?.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
  });
  const p = await waitForFile(b.page, { name: 'pasted.txt' });
  assert.equal((await downloadOf(b.page, p.id)).bytes.toString(), 'pasted bytes');
  assert.equal(await a.page.inputValue('#message-input'), '');

  const huge = path.join(dir, 'huge.bin');
  await writeFile(huge, '');
  await truncate(huge, 100 * MiB + 1); // sparse: nothing is written
  await a.page.setInputFiles('#file-input', huge);
  await waitUntil(async () => /files over 100\.0 MiB cannot be sent/.test(await a.page.textContent('#composer-error') ?? ''),
    { message: 'the size limit message' });
  assert.equal((await files(a.page)).length, 2, 'nothing more on the sender\'s screen');
  assert.equal((await files(b.page)).length, 2, 'nothing more arrived');
  await rm(huge);
  await a.context.close();
  await b.context.close();
});

test('Cancel: the receiver discards a file on the way; the sender stops sending', { timeout: 90000 }, async () => {
  const { a, b } = await pair();
  const big = path.join(dir, 'cancel-40MiB.bin');
  await randomFile(big, 40 * MiB);

  // The receiver cancels: its copy is dropped, the sender goes on to the end.
  await a.page.setInputFiles('#file-input', big);
  await waitForFile(b.page, { name: 'cancel-40MiB.bin', states: ['receiving'] });
  await b.page.locator('[data-testid=file-cancel]').click();
  const gone = await waitForFile(b.page, { name: 'cancel-40MiB.bin', states: ['cancelled'] });
  assert.equal(gone.download, '');
  await waitUntil(async () => (await stats(b.page)).files.receiving === 0, { message: 'nothing held for the cancelled file' });

  // The sender cancels the next one: no more chunks go out.
  const sent = await waitForFile(a.page, { name: 'cancel-40MiB.bin', self: true, states: ['done'], timeout: 30000 });
  assert.ok(sent);
  await a.page.setInputFiles('#file-input', big);
  await waitUntil(async () => (await files(a.page)).filter((f) => f.state === 'sending').length === 1, { message: 'sending' });
  await a.page.locator('[data-testid=file-cancel]').click();
  await waitUntil(async () => (await files(a.page)).some((f) => f.self && f.state === 'cancelled'), { message: 'sender cancelled' });
  assert.equal((await stats(a.page)).files.sending, 0);
  // No chunk leaves after the cancel: a message sent now is the last frame.
  const chunks = () => envelopes(a, 'sent', 6).length;
  const before = chunks();
  assert.ok(before > 640 && before < 1280, `${before} chunks: the first file whole and part of the second`);
  await send(a.page, 'after the cancel');
  await waitForMessage(b.page, 'after the cancel');
  assert.equal(chunks(), before, 'no chunk after the cancel');
  const last = a.sockets.flatMap((s) => s.sent).filter((f) => f[0] === 0x03).at(-1);
  assert.equal(last?.[3], 2, 'the message went out after the last chunk');
  await a.context.close();
  await b.context.close();
});

test('a tampering relay: a dropped, a repeated and an altered chunk, and ERROR 4011, each fail the file and show nothing',
  { timeout: 120000 }, async () => {
    const { a, b, tap } = await pair({ tapB: true });
    assert.ok(tap);
    /** @param {Buffer} f @param {number} seq */
    const isChunk = (f, seq) => f[0] === 0x03 && f[3] === 6 && Number(f.readBigUInt64BE(1 + 32)) === seq;
    const send = async (name, n) => {
      const p = path.join(dir, name);
      await randomFile(p, n);
      await a.page.setInputFiles('#file-input', p);
    };

    // Chunk 2 dropped on its way to bob.
    tap.dropIn((f) => isChunk(f, 2));
    await send('dropped.bin', 4 * 65532);
    let f = await waitForFile(b.page, { name: 'dropped.bin', states: ['failed'] });
    assert.equal(f.error, 'file failed: chunk 3 arrived where chunk 2 was due (reordered, duplicated or lost)');
    assert.equal(f.download, '');

    // Chunk 1 delivered twice.
    tap.dropIn((f2) => {
      if (!isChunk(f2, 1)) return false;
      // In its place, at once (so in order): the chunk twice.
      tap.toPage(f2);
      tap.toPage(f2);
      return true;
    });
    await send('repeated.bin', 3 * 65532);
    f = await waitForFile(b.page, { name: 'repeated.bin', states: ['failed'] });
    assert.match(f.error, /^file failed: chunk 1 arrived where chunk 2 was due/);

    // The last chunk with one ciphertext bit flipped.
    tap.dropIn((f3) => {
      if (!isChunk(f3, 2) || f3[4] !== 1) return false;
      const bad = Buffer.from(f3);
      bad[1 + 40 + 12 + 100] ^= 1;
      tap.toPage(bad);
      return true;
    });
    await send('altered.bin', 65532 + 10);
    f = await waitForFile(b.page, { name: 'altered.bin', states: ['failed'] });
    assert.equal(f.error, 'file failed: a chunk has a bad signature');

    // The relay says it skipped chunks for bob (a slow reader): the file in progress fails.
    await send('skipped.bin', 30 * MiB);
    await waitForFile(b.page, { name: 'skipped.bin', states: ['receiving'] });
    tap.toPage(Buffer.from(encodeError(4011, 'file transfer skipped: you are reading too slowly')));
    f = await waitForFile(b.page, { name: 'skipped.bin', states: ['failed'] });
    assert.match(f.error, /^file failed: the server skipped part of it \(file transfer skipped: you are reading too slowly\)/);
    // The rest of its chunks are dropped quietly; the sender finishes; nothing is held.
    await waitForFile(a.page, { name: 'skipped.bin', self: true, timeout: 30000 });
    await waitUntil(async () => (await stats(b.page)).files.receiving === 0, { message: 'nothing held' });
    assert.equal((await files(b.page)).filter((x) => x.state === 'done').length, 0, 'no file was offered');
    await a.context.close();
    await b.context.close();
  });

// ------------------------------------------------------------ terminal

/**
 * Start `veil listen`; events accumulate and can be awaited.
 * @param {string[]} args
 */
function listen(args) {
  const proc = spawn(veil, ['listen', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  /** @type {Record<string, any>[]} */
  const events = [];
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  readline.createInterface({ input: proc.stdout }).on('line', (line) => {
    try { events.push(JSON.parse(line)); } catch { /* not JSON */ }
  });
  const exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    proc, events, exited,
    /** @param {(e: Record<string, any>) => boolean} pred @param {string} what @param {number} [timeout] */
    wait: (pred, what, timeout = 15000) => waitUntil(async () => events.find(pred),
      { timeout, message: `veil listen: ${what} (stderr: ${stderr})` }),
  };
}

test('50 MiB from the browser to veil listen --save-dir, and back with veil send --file: equal SHA-256 both ways',
  { timeout: 240000 }, async () => {
    const a = await newUser(browser, { frames: false });
    const { link } = await createRoom(a.page, srv.url, { name: 'big files' });
    await joinRoom(a.page, testLink(link), { alias: 'alice' });
    const saveDir = await mkdtemp(path.join(dir, 'save-'));
    const ear = listen(['--alias', 'terminal', '--save-dir', saveDir, link]);
    await waitForNotice(a.page, 'terminal joined');

    const src = path.join(dir, 'fifty.bin');
    const sum = await randomFile(src, 50 * MiB);

    // Browser -> terminal.
    let t0 = Date.now();
    await a.page.setInputFiles('#file-input', src);
    const saved = await ear.wait((e) => e.type === 'file' || e.type === 'file-failed', 'the 50 MiB file', 90000);
    const up = Date.now() - t0;
    assert.equal(saved.type, 'file', `veil listen: ${saved.text}`);
    assert.equal(saved.from, 'alice');
    assert.equal(saved.name, 'fifty.bin');
    assert.equal(saved.size, 50 * MiB);
    assert.equal(saved.sha256, sum, 'the manifest hash is the file\'s');
    assert.equal(sha256(await readFile(saved.path)), sum, 'the saved file is the very file');
    const sent = await waitForFile(a.page, { name: 'fifty.bin', self: true, states: ['done', 'failed', 'cancelled'], timeout: 60000 });
    assert.equal(sent.state, 'done', `the sender's side: ${sent.error}`);

    // Terminal -> browser.
    t0 = Date.now();
    await run(veil, ['send', '--alias', 'sender', '--file', src, link], { cwd: ROOT, timeout: 90000 });
    const back = await waitForFile(a.page, { name: 'fifty.bin', self: false, states: ['done', 'failed'], timeout: 90000 })
      .catch(async (e) => assert.fail(`${e.message}; files: ${JSON.stringify(await files(a.page))}; stats: ${JSON.stringify(await stats(a.page))}`));
    const down = Date.now() - t0;
    assert.equal(back.state, 'done', back.error);
    assert.equal(back.size, '50.0 MiB');
    assert.match(back.download, /^blob:/);
    const bytes = (await downloadOf(a.page, back.id)).bytes;
    assert.equal(bytes.length, 50 * MiB);
    assert.equal(sha256(bytes), sum, 'the browser has the very file the terminal sent');
    console.log(`# 50 MiB browser -> veil listen: ${(up / 1000).toFixed(1)} s; veil send -> browser: ${(down / 1000).toFixed(1)} s`);

    // Files in a DM, both ways, between the browser and Go.
    const small = path.join(dir, 'dm-note.bin');
    const smallSum = await randomFile(small, 3 * 65532 + 7);
    await startDM(a.page, 'terminal');
    await a.page.setInputFiles('#file-input', small);
    const dmSaved = await ear.wait((e) => (e.type === 'file' || e.type === 'file-failed') && e.name === 'dm-note.bin', 'the DM file');
    assert.equal(dmSaved.type, 'file', dmSaved.text);
    assert.equal(sha256(await readFile(dmSaved.path)), smallSum);
    await run(veil, ['send', '--alias', 'whisper', '--dm', 'alice', '--file', small, link], { cwd: ROOT, timeout: 30000 });
    const dmBack = await waitUntil(async () => (await files(a.page)).find((f) => !f.self && f.name === 'dm-note.bin' && f.state !== 'receiving'),
      { timeout: 20000, message: 'the DM file from veil send' });
    assert.equal(dmBack.state, 'done', dmBack.error);
    assert.equal(await a.page.getAttribute(`li[data-id="${dmBack.id}"]`, 'data-kind'), 'dm');
    assert.equal(sha256((await downloadOf(a.page, dmBack.id)).bytes), smallSum);

    assert.deepEqual(a.errors, []);
    ear.proc.kill('SIGINT');
    await ear.exited;
    await a.context.close();
  });
