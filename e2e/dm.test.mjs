// Direct messages: three members; a DM reaches only the member it is for, is
// visibly marked on both ends, and a reply to it stays direct.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, cleanBuild } from './lib/server.mjs';
import { launch, newUser, createRoom, joinRoom, send, messages, members, waitForMessage, waitUntil } from './lib/browser.mjs';

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

test('a direct message reaches only its recipient and is marked as direct', { timeout: 60000 }, async () => {
  const [a, b, c] = [await newUser(browser), await newUser(browser), await newUser(browser)];
  const { link } = await createRoom(a.page, srv.url, { name: 'three' });
  await joinRoom(a.page, link, { alias: 'alice' });
  await joinRoom(b.page, link, { alias: 'bob' });
  await joinRoom(c.page, link, { alias: 'carol' });
  for (const u of [a, b, c]) {
    await waitUntil(async () => (await members(u.page)).length === 3, { message: 'three members listed' });
  }

  // Alice picks bob in the member list.
  await a.page.locator('[data-testid=member]', { hasText: 'bob' }).locator('[data-testid=dm-button]').click();
  assert.equal(await a.page.textContent('[data-testid=dm-target]'), 'bob');
  await send(a.page, 'psst, only for **bob**');
  // The DM target stays until cancelled; then a group message goes to all.
  await a.page.click('#dm-cancel');
  assert.equal(await a.page.isVisible('#dm-to'), false);
  await send(a.page, 'hello everyone');

  const onB = await waitForMessage(b.page, 'psst, only for bob');
  assert.equal(onB.kind, 'dm');
  assert.equal(onB.dm, 'direct message to you');
  const onA = (await messages(a.page)).find((m) => m.body.includes('psst'));
  assert.equal(onA?.kind, 'dm');
  assert.equal(onA?.dm, 'direct message to bob');

  // Carol gets the later group message, so the DM had its chance to arrive: it did not.
  await waitForMessage(c.page, 'hello everyone');
  await waitForMessage(b.page, 'hello everyone');
  const onC = await messages(c.page);
  assert.deepEqual(onC.map((m) => m.body), ['hello everyone']);
  const carolText = await c.page.textContent('#messages');
  assert.ok(!carolText?.includes('psst'), 'carol never sees the DM');

  // Bob replies to the DM: the reply goes back directly to alice.
  await b.page.locator('#messages > li[data-testid=message]', { hasText: 'psst' }).locator('[data-testid=reply-button]').click();
  assert.equal(await b.page.textContent('[data-testid=dm-target]'), 'alice');
  await send(b.page, 'got it');
  const back = await waitForMessage(a.page, 'got it');
  assert.equal(back.kind, 'dm');
  assert.equal(back.dm, 'direct message to you');
  assert.match(back.quote, /psst, only for \*\*bob\*\*/);
  await send(a.page, 'second group message');
  await waitForMessage(c.page, 'second group message');
  assert.ok(!(await c.page.textContent('#messages'))?.includes('got it'), 'carol never sees the DM reply');

  for (const u of [a, b, c]) {
    assert.deepEqual(u.errors, []);
    await u.context.close();
  }
});
