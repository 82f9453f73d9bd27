// Sender-key epochs (docs/protocol.md 7.2): a member who leaves makes every
// other member start a new epoch and hand its key (kind 4) to those who
// stay; an epoch also ends after 100 messages and before a message once it
// is 10 minutes old. The members keep chatting across every change.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, cleanBuild } from './lib/server.mjs';
import {
  launch, newUser, createRoom, joinRoom, send, members, notices, stats, envelopes, testLink,
  waitForMessage, waitForNotice, waitUntil,
} from './lib/browser.mjs';

/** @type {import('./lib/server.mjs').Server} */
let srv;
/** @type {import('playwright-core').Browser} */
let browser;

before(async () => {
  // Over a hundred messages in a few seconds: above the default per-session
  // rate limit, which is not what this file tests.
  srv = await startServer({ args: ['--msg-rate', '1000', '--msg-burst', '1000'] });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await srv?.stop();
  await cleanBuild();
});

const SK = 4;
/** @param {Buffer} f the epoch in an ENVELOPE frame's header */
const epochOf = (f) => f.readUInt32BE(1 + 28);

test('a member leaves: the others start a new epoch, hand over its key and keep chatting', { timeout: 90000 }, async () => {
  const [a, b, c] = [await newUser(browser), await newUser(browser), await newUser(browser)];
  const { link } = await createRoom(a.page, srv.url, { name: 'epochs' });
  await joinRoom(a.page, testLink(link), { alias: 'alice' });
  await joinRoom(b.page, testLink(link), { alias: 'bob' });
  await joinRoom(c.page, testLink(link), { alias: 'carol' });
  for (const u of [a, b, c]) {
    await waitUntil(async () => (await members(u.page)).length === 3, { message: 'three members listed' });
  }
  await send(a.page, 'all three of us');
  for (const u of [b, c]) await waitForMessage(u.page, 'all three of us');
  await send(c.page, 'carol speaking');
  for (const u of [a, b]) await waitForMessage(u.page, 'carol speaking');

  const epochA = (await stats(a.page)).epoch;
  const epochB = (await stats(b.page)).epoch;
  const keysBefore = { a: envelopes(a, 'sent', SK).length, b: envelopes(b, 'sent', SK).length };
  const carolSession = Number((await stats(c.page)).session);

  await c.page.close();
  await waitForNotice(a.page, 'carol left');
  await waitForNotice(b.page, 'carol left');

  // Each of the two starts its next epoch and sends one kind-4 envelope:
  // to the other, never to carol.
  for (const [u, before, start] of /** @type {const} */ ([[a, keysBefore.a, epochA], [b, keysBefore.b, epochB]])) {
    await waitUntil(async () => (await stats(u.page)).epoch === start + 1, { message: 'a new epoch after the leave' });
    const fresh = envelopes(u, 'sent', SK).slice(before);
    assert.equal(fresh.length, 1, 'one sender key for the one member left');
    assert.equal(epochOf(fresh[0]), start + 1);
    assert.notEqual(fresh[0].readUInt32BE(1 + 24), carolSession, 'nothing for carol');
  }
  // Each now reads the other in the new epoch.
  await waitUntil(async () => (await stats(b.page)).recv[(await stats(a.page)).session] === epochA + 1,
    { message: 'bob holds alice\'s new epoch' });

  await send(a.page, 'just us two now');
  const got = await waitForMessage(b.page, 'just us two now');
  assert.equal(got.alias, 'alice');
  const lastMsg = envelopes(a, 'sent', 2).at(-1);
  assert.ok(lastMsg);
  assert.equal(epochOf(lastMsg), epochA + 1, 'the message went out in the new epoch');
  assert.equal(Number(lastMsg.readBigUInt64BE(1 + 32)), 1, 'and is its first');
  await send(b.page, 'indeed');
  await waitForMessage(a.page, 'indeed');
  for (const u of [a, b]) {
    const s = await stats(u.page);
    assert.equal(s.rejected, 0);
    assert.equal(s.missing, 0);
    assert.ok(!(await notices(u.page)).some((n) => n.includes('missing')));
  }
  for (const u of [a, b]) await u.context.close();
});

test('an epoch ends after 100 messages, and before a message once it is 10 minutes old', { timeout: 120000 }, async () => {
  const a = await newUser(browser);
  const b = await newUser(browser);
  const { link } = await createRoom(a.page, srv.url);
  await joinRoom(a.page, testLink(link), { alias: 'alice' });
  await joinRoom(b.page, testLink(link), { alias: 'bob' });
  await waitUntil(async () => (await members(a.page)).length === 2);
  const start = (await stats(a.page)).epoch;
  assert.equal((await stats(a.page)).sentInEpoch, 0);

  for (let i = 1; i <= 100; i++) await send(a.page, `message ${i}`);
  await waitForMessage(b.page, 'message 100');
  let s = await stats(a.page);
  assert.equal(s.epoch, start, '100 messages fit in one epoch');
  assert.equal(s.sentInEpoch, 100);
  await send(a.page, 'message 101');
  await waitForMessage(b.page, 'message 101');
  s = await stats(a.page);
  assert.equal(s.epoch, start + 1, 'the 101st message starts a new epoch');
  assert.equal(s.sentInEpoch, 1);
  const msgs = envelopes(a, 'sent', 2);
  assert.equal(msgs.length, 101);
  assert.deepEqual(msgs.slice(-2).map((f) => [epochOf(f), Number(f.readBigUInt64BE(1 + 32))]), [[start, 100], [start + 1, 1]]);
  const sks = envelopes(a, 'sent', SK);
  assert.equal(epochOf(sks.at(-1) ?? Buffer.alloc(40)), start + 1, 'its key went to bob first');

  // Age the epoch by 10 minutes (a test hook; the real clock is not
  // touched): the next message starts another.
  await a.page.evaluate(() => /** @type {any} */ (window).__veilTest.ageEpoch(600000));
  await send(a.page, 'ten minutes later');
  await waitForMessage(b.page, 'ten minutes later');
  s = await stats(a.page);
  assert.equal(s.epoch, start + 2, 'a 10-minute-old epoch is replaced before sending');
  assert.equal((await stats(b.page)).rejected, 0);
  assert.equal((await stats(b.page)).missing, 0);
  assert.deepEqual(a.errors, []);
  assert.deepEqual(b.errors, []);
  for (const u of [a, b]) await u.context.close();
});
