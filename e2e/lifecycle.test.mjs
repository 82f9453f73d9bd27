// How things end (and one way they don't): a self-destructing message,
// logging out (and failing to come back with the old session's token),
// purging by a member and by the owner key, dead links, a wrong password,
// and a dropped connection that resumes its session.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, cleanBuild } from './lib/server.mjs';
import { startProxy } from './lib/proxy.mjs';
import { tapSocket } from './lib/tap.mjs';
import {
  launch, newUser, createRoom, joinRoom, submitJoin, send, messages, members, stats, testLink,
  waitForMessage, waitForNotice, waitUntil,
} from './lib/browser.mjs';

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
 * Two members in a fresh room.
 * @param {{purge?: 'anyone'|'owner', name?: string}} [o]
 */
async function pair(o = {}) {
  const a = await newUser(browser);
  const b = await newUser(browser);
  const created = await createRoom(a.page, srv.url, { name: o.name ?? 'lifecycle', purge: o.purge });
  await a.page.click('#enter-room');
  await submitJoin(a.page, { alias: 'alice' });
  await a.page.locator('#room-view').waitFor();
  await joinRoom(b.page, created.link, { alias: 'bob' });
  await waitUntil(async () => (await members(a.page)).length === 2, { message: 'alice sees bob' });
  return { a, b, ...created };
}

test('a self-destructing message vanishes from both screens after 10 s', { timeout: 60000 }, async () => {
  const { a, b } = await pair();
  await send(a.page, 'this will vanish', { ttl: '10' });
  await send(a.page, 'this stays', { ttl: '0' });
  const seen = Date.now();
  await waitForMessage(b.page, 'this will vanish');
  await waitForMessage(b.page, 'this stays');
  for (const p of [a.page, b.page]) {
    const timer = await p.locator('#messages > li', { hasText: 'this will vanish' }).locator('[data-testid=ttl-timer]').textContent();
    assert.match(timer ?? '', /vanishes in (10|9|8) s/);
    assert.equal(await p.locator('#messages > li', { hasText: 'this stays' }).locator('[data-testid=ttl-timer]').count(), 0);
  }
  // A reply quotes the self-destructing message without its words.
  await b.page.locator('#messages > li[data-testid=message]', { hasText: 'this will vanish' }).locator('[data-testid=reply-button]').click();
  await send(b.page, 'a reply to it');
  await waitForMessage(a.page, 'a reply to it');
  const quote = await a.page.locator('#messages > li', { hasText: 'a reply to it' }).locator('[data-testid=reply-quote]').textContent();
  assert.match(quote ?? '', /a self-destructing message/);
  assert.doesNotMatch(quote ?? '', /this will vanish/);
  for (const p of [a.page, b.page]) {
    await waitUntil(async () => !(await messages(p)).some((m) => m.body.includes('this will vanish')),
      { timeout: 15000, message: 'self-destructing message removed' });
  }
  const took = Date.now() - seen;
  assert.ok(took >= 8000, `vanished after ${took} ms, not before its time`);
  for (const p of [a.page, b.page]) {
    assert.deepEqual((await messages(p)).map((m) => m.body), ['this stays', 'a reply to it']);
    assert.ok(!(await p.content()).includes('this will vanish'), 'no trace left in the DOM');
  }
  await a.context.close();
  await b.context.close();
});

test('log out ends the session for good: the old token cannot resume', { timeout: 60000 }, async () => {
  const { a, b, link } = await pair();
  // The JOIN frame bob sent carries the rid; the WELCOME he received, the token.
  const sock = b.sockets.find((s) => s.url.endsWith('/ws'));
  assert.ok(sock, 'bob has a WebSocket');
  const join = sock.sent.find((f) => f[0] === 0x01);
  const welcome = sock.received.find((f) => f[0] === 0x81);
  assert.ok(join && welcome, 'JOIN sent and WELCOME received');
  const rid = [...join.subarray(1, 17)];
  const token = [...welcome.subarray(5, 37)];

  await b.page.click('#logout');
  await b.page.locator('#notice-view[data-kind=logged-out]').waitFor();
  assert.equal(await b.page.textContent('#notice-text'), 'You logged out. You need the link to come back.');
  assert.equal(new URL(b.page.url()).hash, '', 'log out removes the link from the address bar');
  assert.equal(await b.page.locator('#messages').count(), 0);
  await waitForNotice(a.page, 'bob logged out');
  await waitUntil(async () => (await members(a.page)).length === 1, { message: 'bob gone from alice\'s list' });

  // A fresh page tries to take the session back with the old token.
  const c = await newUser(browser);
  await c.page.goto(`${srv.url}/`);
  const closed = await c.page.evaluate(({ rid, token }) => new Promise((resolve) => {
    const ws = new WebSocket(`ws://${location.host}/ws`);
    ws.binaryType = 'arraybuffer';
    ws.addEventListener('open', () => {
      const f = new Uint8Array(49);
      f[0] = 0x02;
      f.set(rid, 1);
      f.set(token, 17);
      ws.send(f);
    });
    ws.addEventListener('close', (e) => resolve({ code: e.code, reason: e.reason }));
  }), { rid, token });
  assert.equal(closed.code, 4007, `RESUME with a logged-out token closes with 4007, got ${JSON.stringify(closed)}`);

  // The link itself still works for a new session.
  await joinRoom(c.page, link, { alias: 'carol' });
  await waitForNotice(a.page, 'carol joined');
  for (const u of [a, b, c]) await u.context.close();
});

test('purge by a member wipes every screen and kills the link', { timeout: 60000 }, async () => {
  const { a, b, link } = await pair({ name: 'to be purged' });
  await send(a.page, 'secret plans');
  await waitForMessage(b.page, 'secret plans');

  // Policy "anyone": bob, who is not the owner, may purge; a confirmation comes first.
  await b.page.click('#purge');
  await b.page.locator('#purge-dialog').waitFor();
  await b.page.click('#purge-dialog-cancel');
  await waitUntil(async () => (await b.page.locator('#purge-dialog').count()) === 0, { message: 'cancel closes the dialog' });
  assert.equal(await b.page.locator('#room-view').count(), 1, 'cancel keeps the room');
  await b.page.click('#purge');
  await b.page.click('#purge-dialog-confirm');

  for (const p of [a.page, b.page]) {
    await p.locator('#notice-view[data-kind=purged]').waitFor();
    assert.equal(await p.textContent('#notice-title'), 'This room was purged');
    assert.equal(new URL(p.url()).hash, '', 'purge removes the link from the address bar');
    const html = await p.content();
    assert.ok(!html.includes('secret plans') && !html.includes('to be purged'), 'nothing of the room left on screen');
    assert.equal(await p.locator('#messages').count(), 0);
  }

  // The link is dead now.
  const c = await newUser(browser);
  await c.page.goto(link);
  await submitJoin(c.page, { alias: 'late' });
  await c.page.locator('#notice-view[data-kind=dead]').waitFor();
  assert.equal(await c.page.textContent('#notice-title'), 'This room is gone');
  for (const u of [a, b, c]) {
    assert.deepEqual(u.errors, []);
    await u.context.close();
  }
});

test('owner-only purge: a member needs the owner key, a wrong one is refused', { timeout: 60000 }, async () => {
  const { a, b, ownerKey } = await pair({ purge: 'owner' });
  // Bob has no key: no plain Purge button, only the owner-key dialog.
  assert.equal(await b.page.locator('#purge').count(), 0);
  assert.equal(await a.page.locator('#purge').count(), 1, 'the creator holds the key and may purge');

  await b.page.click('#purge-owner');
  await b.page.fill('#owner-key-input', 'not a key');
  await b.page.click('#owner-key-submit');
  assert.match(await b.page.textContent('#owner-key-error') ?? '', /not an owner key/);
  // Well-formed but wrong: the relay refuses (ERROR 4010) and the room goes on.
  await b.page.fill('#owner-key-input', 'A'.repeat(42) + 'A');
  await b.page.click('#owner-key-submit');
  await waitUntil(async () => /not the owner key of this room: it was not purged/.test(await b.page.textContent('#room-alert') ?? ''),
    { message: 'not-allowed alert' });
  assert.equal(await a.page.locator('#room-view').count(), 1);

  await b.page.click('#purge-owner');
  await b.page.fill('#owner-key-input', ownerKey);
  await b.page.click('#owner-key-submit');
  for (const p of [a.page, b.page]) await p.locator('#notice-view[data-kind=purged]').waitFor();
  await a.context.close();
  await b.context.close();
});

test('dead and malformed links get a clear page', { timeout: 30000 }, async () => {
  const u = await newUser(browser);
  // Well-formed, but no such room.
  await u.page.goto(`${srv.url}/#1.${'A'.repeat(43)}`);
  await submitJoin(u.page, { alias: 'nobody' });
  await u.page.locator('#notice-view[data-kind=dead]').waitFor();
  assert.match(await u.page.textContent('#notice-text') ?? '', /does not exist any more/);
  await u.page.click('#create-new');
  await u.page.locator('#create-form').waitFor();
  assert.equal(new URL(u.page.url()).hash, '');

  // Not a link at all (a new fragment in the same tab starts the page over).
  await u.page.goto(`${srv.url}/#2.garbage`);
  await u.page.locator('#notice-view[data-kind=invalid]').waitFor();
  assert.equal(await u.page.textContent('#notice-title'), 'This link is not valid');
  assert.deepEqual(u.errors, []);
  await u.context.close();
});

test('a wrong password gets a clear page and a way to try again', { timeout: 60000 }, async () => {
  const a = await newUser(browser);
  const b = await newUser(browser);
  const { link } = await createRoom(a.page, srv.url, { name: 'locked', password: 'correct horse' });
  assert.match(link, /#1p\./, 'a password room has a 1p link');
  await a.page.click('#enter-room');
  await submitJoin(a.page, { alias: 'alice', password: 'correct horse' });
  await a.page.locator('#room-view').waitFor();

  await b.page.goto(link);
  assert.equal(await b.page.locator('#join-password').count(), 1, 'the join form asks for the password');
  await submitJoin(b.page, { alias: 'bob', password: 'wrong' });
  await b.page.locator('#notice-view[data-kind=wrong-password]').waitFor();
  assert.equal(await b.page.textContent('#notice-title'), 'Wrong password');
  await b.page.click('#try-again');
  await submitJoin(b.page, { password: 'correct horse' });
  await b.page.locator('#room-view').waitFor();
  assert.equal(await b.page.textContent('#room-name'), 'locked');
  await waitForNotice(a.page, 'bob joined');
  await a.context.close();
  await b.context.close();
});

test('a dropped connection resumes the same session with its token', { timeout: 60000 }, async () => {
  const proxy = await startProxy(srv.url);
  try {
    const a = await newUser(browser);
    const b = await newUser(browser);
    const { link } = await createRoom(a.page, proxy.url, { name: 'flaky network' });
    await a.page.click('#enter-room');
    await submitJoin(a.page, { alias: 'alice' });
    await a.page.locator('#room-view').waitFor();
    await joinRoom(b.page, link, { alias: 'bob' });
    await waitUntil(async () => (await members(a.page)).length === 2);
    await send(a.page, 'before the drop');
    await waitForMessage(b.page, 'before the drop');
    const before = (await members(b.page)).map((m) => m.session).sort();

    assert.ok(proxy.cut() > 0, 'connections cut');
    // Both sides reconnect through the proxy with RESUME (frame type 02).
    for (const u of [a, b]) {
      await waitUntil(() => u.sockets.length === 2 && u.sockets[1].sent.length > 0 && u.sockets[1].received.some((f) => f[0] === 0x81),
        { timeout: 15000, message: 'a second socket that got WELCOME' });
      assert.equal(u.sockets[1].sent[0][0], 0x02, 'the second socket starts with RESUME');
      await waitUntil(async () => (await u.page.textContent('#conn-status')) === '', { message: 'reconnected' });
    }
    assert.deepEqual((await members(b.page)).map((m) => m.session).sort(), before, 'same sessions after resuming');

    // Messages flow both ways again (sequence numbers carried on), with no
    // leave or join notices in between, and the screen was kept.
    await send(a.page, 'after the drop');
    await waitForMessage(b.page, 'after the drop');
    await send(b.page, 'bob is back');
    await waitForMessage(a.page, 'bob is back');
    assert.deepEqual((await messages(b.page)).map((m) => m.body), ['before the drop', 'after the drop', 'bob is back']);
    const noticesA = await a.page.$$eval('#messages .sys-text', (ns) => ns.map((n) => n.textContent));
    assert.ok(!noticesA.some((n) => /bob (left|lost)/.test(n ?? '')), `no leave notice: ${noticesA}`);
    await a.context.close();
    await b.context.close();
  } finally {
    await proxy.close();
  }
});

test('a member whose socket dropped gets a sender key it missed once it announces itself again', { timeout: 90000 }, async () => {
  const proxy = await startProxy(srv.url);
  try {
    const [a, b, c] = [await newUser(browser), await newUser(browser), await newUser(browser)];
    const tap = await tapSocket(b.page);
    const { link } = await createRoom(a.page, srv.url, { name: 'away' });
    const fragment = new URL(link).hash;
    await joinRoom(a.page, testLink(link), { alias: 'alice' });
    // Only bob goes through the proxy, so only his socket drops.
    await joinRoom(b.page, `${proxy.url}/?test${fragment}`, { alias: 'bob' });
    await joinRoom(c.page, link, { alias: 'carol' });
    for (const u of [a, b, c]) await waitUntil(async () => (await members(u.page)).length === 3);
    await send(a.page, 'before bob drops');
    await waitForMessage(b.page, 'before bob drops');
    const epoch = (await stats(a.page)).epoch;
    const alice = (await stats(a.page)).session;

    // Bob's network goes away; carol leaves and alice starts a new epoch. Her
    // new key for bob is lost on the way (the relay holds frames for a
    // dropped session, but only so many: here the tap plays that loss).
    proxy.down(true);
    assert.ok(proxy.cut() > 0);
    tap.dropIn((f) => f[0] === 0x03 && f[3] === 4 && f.readUInt32BE(1 + 20) === alice && f.readUInt32BE(1 + 28) === epoch + 1);
    await c.page.close();
    await waitUntil(async () => (await stats(a.page)).epoch === epoch + 1, { message: 'alice in a new epoch' });

    // Bob comes back and announces himself again (a hello after RESUME):
    // alice answers with her current key, so he reads her new epoch.
    proxy.down(false);
    await waitUntil(async () => (await b.page.textContent('#conn-status')) === '', { timeout: 20000, message: 'bob reconnected' });
    await waitForNotice(b.page, 'carol left');
    await waitUntil(async () => (await stats(b.page)).recv[alice] === epoch + 1, { message: 'bob holds alice\'s new epoch' });
    assert.equal(tap.received.filter((f) => f[0] === 0x03 && f[3] === 4 && f.readUInt32BE(1 + 28) === epoch + 1).length, 1,
      'one copy of alice\'s new key reached bob: the answer to his hello');
    await send(a.page, 'after bob is back');
    await waitForMessage(b.page, 'after bob is back');
    await send(b.page, 'bob reads you');
    await waitForMessage(a.page, 'bob reads you');
    assert.equal((await stats(a.page)).rejected, 0);
    for (const u of [a, b]) await u.context.close();
  } finally {
    await proxy.close();
  }
});
