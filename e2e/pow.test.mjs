// Proof of work: on a relay started with --pow, the browser does the work
// for creating a room and for joining it (docs/protocol.md section 10), says
// why it waits, and the room works as usual; a raw JOIN without a proof is
// refused with 4017.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, cleanBuild } from './lib/server.mjs';
import { launch, newUser, createRoom, joinRoom, submitJoin, send, waitForMessage } from './lib/browser.mjs';

/** @type {import('./lib/server.mjs').Server} */
let srv;
/** @type {import('playwright-core').Browser} */
let browser;

before(async () => {
  srv = await startServer({ args: ['--pow', '12'] });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await srv?.stop();
  await cleanBuild();
});

test('creating and joining pay the proof of work, then the room works', { timeout: 60000 }, async () => {
  const a = await newUser(browser);
  const b = await newUser(browser);
  const { link } = await createRoom(a.page, srv.url, { name: 'costly' });
  await a.page.click('#enter-room');
  await submitJoin(a.page, { alias: 'alice' });
  await a.page.locator('#room-view').waitFor();
  await joinRoom(b.page, link, { alias: 'bob' });
  await send(a.page, 'worth the work');
  await waitForMessage(b.page, 'worth the work');
  await send(b.page, 'agreed');
  await waitForMessage(a.page, 'agreed');
  // Without the work the relay refuses, with the reason.
  const refused = await a.page.evaluate((url) => new Promise((resolve) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws') + '/ws');
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => ws.send(new Uint8Array(49).fill(1).map((v, i) => (i === 0 ? 1 : v)));
    ws.onclose = (ev) => resolve({ code: ev.code, reason: ev.reason });
  }), srv.url);
  assert.deepEqual(refused, { code: 4017, reason: 'this server asks for a proof of work (GET /api/pow)' });
  await a.context.close();
  await b.context.close();
});
