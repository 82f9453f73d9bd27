// How long joining takes in headless Chromium on this machine, from the
// click on Join to the room view: with a password (PBKDF2-SHA256 at 600,000
// iterations, docs/protocol.md section 2) and, for comparison, without. The
// figures are printed; the test asserts only that both joins complete.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, cleanBuild } from './lib/server.mjs';
import { launch, newUser, createRoom } from './lib/browser.mjs';

/** @type {import('./lib/server.mjs').Server} */
let srv;
/** @type {import('playwright-core').Browser} */
let browser;

before(async () => {
  srv = await startServer();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await srv?.stop();
  await cleanBuild();
});

/**
 * Milliseconds from clicking Join to the room view, for a fresh person.
 * @param {string} link
 * @param {string} [password]
 */
async function timeJoin(link, password) {
  const u = await newUser(browser);
  try {
    await u.page.goto(link);
    await u.page.locator('#join-form').waitFor();
    await u.page.fill('#alias', 'timer');
    if (password) await u.page.fill('#join-password', password);
    const t0 = Date.now();
    await u.page.click('#join-submit');
    await u.page.locator('#room-view').waitFor({ timeout: 30000 });
    const ms = Date.now() - t0;
    assert.deepEqual(u.errors, []);
    return ms;
  } finally {
    await u.context.close();
  }
}

test('joining a password room in headless Chromium (PBKDF2 at 600k iterations)', { timeout: 120000 }, async () => {
  const creator = await newUser(browser);
  const password = 'correct horse battery staple';
  const withPw = await createRoom(creator.page, srv.url, { password });
  const without = await createRoom(creator.page, srv.url);
  await creator.context.close();

  /** @type {number[]} */
  const pw = [];
  /** @type {number[]} */
  const plain = [];
  for (let i = 0; i < 3; i++) {
    pw.push(await timeJoin(withPw.link, password));
    plain.push(await timeJoin(without.link));
  }
  const median = (/** @type {number[]} */ xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  console.log(`join with password: ${median(pw)} ms (median of ${pw.join(', ')} ms; PBKDF2-SHA256, 600000 iterations)`);
  console.log(`join without password: ${median(plain)} ms (median of ${plain.join(', ')} ms)`);
  assert.ok(pw.every((ms) => ms > 0) && plain.every((ms) => ms > 0));
});
