// Expiry: with the operator's maximum lifetime at 20 s, the create page offers
// exactly that, the countdown runs, and at zero every member's screen is
// wiped and says the room expired.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, cleanBuild } from './lib/server.mjs';
import { launch, newUser, createRoom, joinRoom, submitJoin, send, waitForMessage } from './lib/browser.mjs';

/** @type {import('./lib/server.mjs').Server} */
let srv;
/** @type {import('playwright-core').Browser} */
let browser;

before(async () => {
  srv = await startServer({ maxTTL: '20s' });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await srv?.stop();
  await cleanBuild();
});

test('a room expires at its deadline on every screen', { timeout: 60000 }, async () => {
  const a = await newUser(browser);
  const b = await newUser(browser);
  await a.page.goto(`${srv.url}/`);
  const offered = await a.page.$$eval('#room-ttl option', (os) => os.map((o) => [/** @type {HTMLOptionElement} */ (o).value, o.textContent]));
  assert.deepEqual(offered, [['20', '20 seconds']], 'below 5 minutes the maximum itself is offered');

  const { link } = await createRoom(a.page, srv.url, { name: 'short-lived' });
  await a.page.click('#enter-room');
  await submitJoin(a.page, { alias: 'alice' });
  await a.page.locator('#room-view').waitFor();
  await joinRoom(b.page, link, { alias: 'bob' });
  const left = await b.page.textContent('#countdown');
  assert.match(left ?? '', /^00:(1\d|20|0\d)$/, `countdown starts at most 00:20, got ${left}`);
  await send(a.page, 'soon gone');
  await waitForMessage(b.page, 'soon gone');

  for (const p of [a.page, b.page]) {
    await p.locator('#notice-view[data-kind=expired]').waitFor({ timeout: 30000 });
    assert.equal(await p.textContent('#notice-title'), 'This room expired');
    assert.equal(new URL(p.url()).hash, '');
    assert.ok(!(await p.content()).includes('soon gone'));
  }
  await a.context.close();
  await b.context.close();
});
