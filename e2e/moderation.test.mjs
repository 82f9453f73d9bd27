// Moderation in the browser (docs/protocol.md section 9) against a real
// relay: the creator's tab is the owner; it removes a member (who gets its
// own page, while the rest go on in a new epoch the removed one has no key
// to) and locks the room (a newcomer gets the "locked" page until it is
// unlocked); a member reports a message and only the owner sees the report
// card; becoming the owner by pasting the key, and a report with no owner
// in the room; muting and the word filter act for one person only; ACTIVE
// after a key or a click, not a mouse move; the idle page. And with the Go
// client (vbot): reports both ways between a browser owner and a Go owner,
// kick and lock across the two.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, cleanBuild } from './lib/server.mjs';
import { tapSocket } from './lib/tap.mjs';
import { startBot, cleanBot } from './lib/bot.mjs';
import {
  launch, newUser, createRoom, joinRoom, submitJoin, send, messages, members, stats, testLink, envelopes,
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
  await cleanBot();
});

/**
 * A room created by olga (whose tab holds the owner key, so it is the
 * owner), then joined by each alias in turn. Every page is opened with
 * ?test (window.__veilTest).
 * @param {string[]} aliases
 * @param {{name?: string}} [o]
 */
async function room(aliases, o = {}) {
  const owner = await newUser(browser);
  // Created from a ?test page, and entered from it: the same document keeps
  // the owner key in memory (a new navigation would forget it).
  await owner.page.goto(`${srv.url}/?test`);
  await owner.page.locator('#create-form').waitFor();
  await owner.page.fill('#room-name', o.name ?? 'moderated');
  await owner.page.click('#create-submit');
  await owner.page.locator('#created-view').waitFor({ timeout: 15000 });
  const created = { link: await owner.page.inputValue('#room-link'), ownerKey: await owner.page.inputValue('#owner-key') };
  const link = testLink(created.link);
  await owner.page.click('#enter-room');
  await submitJoin(owner.page, { alias: 'olga' });
  await owner.page.locator('#room-view').waitFor();
  /** @type {import('./lib/browser.mjs').User[]} */
  const users = [];
  for (const alias of aliases) {
    const u = await newUser(browser);
    await joinRoom(u.page, link, { alias });
    users.push(u);
  }
  for (const u of [owner, ...users]) {
    await waitUntil(async () => (await members(u.page)).length === aliases.length + 1, { message: 'everyone sees everyone' });
  }
  return { owner, users, link, ownerKey: created.ownerKey };
}

/**
 * Open the menu of the member whose alias is alias.
 * @param {import('playwright-core').Page} page
 * @param {string} alias
 */
async function memberMenu(page, alias) {
  if ((await page.getAttribute('#members-toggle', 'aria-expanded')) === 'false') await page.click('#members-toggle');
  const row = page.locator('#member-list > li', { has: page.locator('[data-testid=member-alias]', { hasText: alias }) });
  await row.locator('[data-testid=member-menu-toggle]').click();
  const menu = row.locator('[data-testid=member-menu]');
  await menu.waitFor({ state: 'visible' });
  return menu;
}

/**
 * The li of the message whose text contains text.
 * @param {import('playwright-core').Page} page
 * @param {string} text
 */
function messageLi(page, text) {
  return page.locator('#messages > li[data-testid=message]', { hasText: text });
}

/** @param {import('./lib/browser.mjs').User[]} us */
async function closeAll(us) {
  for (const u of us) await u.context.close();
}

test('the creator is the owner: a badge and owner actions for it alone', { timeout: 60000 }, async () => {
  const { owner, users: [bob] } = await room(['bob']);
  await owner.page.locator('#owner-badge').waitFor({ state: 'visible' });
  assert.equal(await owner.page.textContent('#owner-badge'), 'You are the owner');
  assert.equal(await owner.page.isVisible('#lock-toggle'), true);
  assert.equal((await stats(owner.page)).owner, true);
  await waitForNotice(owner.page, 'You are the owner of this room');
  // The OWNER frame went out once, after WELCOME, with the key.
  const ownerFrames = owner.sockets.flatMap((s) => s.sent).filter((f) => f[0] === 0x06);
  assert.equal(ownerFrames.length, 1);
  assert.equal(ownerFrames[0].length, 33);

  assert.equal(await bob.page.isVisible('#owner-badge'), false);
  assert.equal(await bob.page.isVisible('#lock-toggle'), false);
  assert.equal((await stats(bob.page)).owner, false);
  const menu = await memberMenu(bob.page, 'olga');
  assert.equal(await menu.locator('[data-testid=kick-button]').count(), 0, 'no Remove for a member');
  assert.equal(await menu.locator('[data-testid=mute-button]').count(), 1);
  await closeAll([owner, bob]);
});

test('kick: the removed member gets its page, the others a notice and a new epoch it has no key to', { timeout: 90000 }, async () => {
  const { owner, users: [bob, carol] } = await room(['bob', 'carol']);
  await owner.page.locator('#owner-badge').waitFor({ state: 'visible' });
  await send(owner.page, 'before the kick');
  for (const u of [bob, carol]) await waitForMessage(u.page, 'before the kick');
  const bobSession = (await stats(bob.page)).session;
  const epochs = { olga: (await stats(owner.page)).epoch, carol: (await stats(carol.page)).epoch };
  const keysBefore = { olga: envelopes(owner, 'sent', 4).length, carol: envelopes(carol, 'sent', 4).length };

  const menu = await memberMenu(owner.page, 'bob');
  await menu.locator('[data-testid=kick-button]').click();
  await owner.page.locator('#kick-dialog').waitFor();
  assert.match(await owner.page.textContent('#kick-dialog-text') ?? '', /join again as a new member unless you lock the room/);
  // Cancel changes nothing.
  await owner.page.click('#kick-dialog-cancel');
  await waitUntil(async () => (await owner.page.locator('#kick-dialog').count()) === 0, { message: 'dialog closed' });
  assert.equal((await members(owner.page)).length, 3);
  await (await memberMenu(owner.page, 'bob')).locator('[data-testid=kick-button]').click();
  await owner.page.click('#kick-dialog-confirm');

  await bob.page.locator('#notice-view[data-kind=removed]').waitFor();
  assert.equal(await bob.page.getAttribute('#notice-view', 'data-code'), '4012');
  assert.match(await bob.page.textContent('#notice-text') ?? '', /The owner removed you from this room/);
  assert.equal(await bob.page.locator('#messages').count(), 0, 'the removed member\'s screen is wiped');
  assert.equal(new URL(bob.page.url()).hash, '', 'and the link is out of the address bar');
  for (const u of [owner, carol]) {
    await waitForNotice(u.page, 'bob was removed by the owner');
    await waitUntil(async () => (await members(u.page)).length === 2, { message: 'bob gone from the list' });
  }

  // The others go on, each in a new epoch whose key went to those who stay.
  await send(carol.page, 'after the kick');
  await waitForMessage(owner.page, 'after the kick');
  await send(owner.page, 'owner after the kick');
  await waitForMessage(carol.page, 'owner after the kick');
  assert.ok((await stats(owner.page)).epoch > epochs.olga, 'olga started a new epoch');
  assert.ok((await stats(carol.page)).epoch > epochs.carol, 'carol started a new epoch');
  for (const [name, u] of /** @type {const} */ ([['olga', owner], ['carol', carol]])) {
    const after = envelopes(u, 'sent', 4).slice(keysBefore[name]);
    assert.ok(after.length > 0, `${name} sent new sender keys`);
    assert.ok(after.every((f) => f.readUInt32BE(1 + 24) !== bobSession), `${name} sent bob no key after the kick`);
  }
  // Bob's page got nothing after its close.
  assert.ok(!(await messages(bob.page)).length);
  assert.deepEqual(bob.errors, []);
  await closeAll([owner, bob, carol]);
});

test('lock: a newcomer gets the locked page; unlocking lets it in', { timeout: 90000 }, async () => {
  const { owner, users: [bob], link } = await room(['bob']);
  await owner.page.locator('#lock-toggle').waitFor({ state: 'visible' });
  assert.equal(await owner.page.textContent('#lock-toggle'), 'Lock room');
  await owner.page.click('#lock-toggle');
  for (const u of [owner, bob]) {
    await waitUntil(async () => (await u.page.textContent('#lock-status')) === 'Room locked: nobody new can join',
      { message: 'locked indicator' });
    assert.equal(await u.page.getAttribute('#lock-status', 'role'), 'status');
    await waitForNotice(u.page, 'The room is locked');
  }
  assert.equal(await owner.page.textContent('#lock-toggle'), 'Unlock room');
  assert.equal((await stats(bob.page)).locked, true);

  const dan = await newUser(browser);
  await dan.page.goto(link);
  await submitJoin(dan.page, { alias: 'dan' });
  await dan.page.locator('#notice-view[data-kind=locked]').waitFor();
  assert.equal(await dan.page.textContent('#notice-title'), 'This room is locked');
  assert.equal(await dan.page.getAttribute('#notice-view', 'data-code'), '4006');
  assert.equal((await members(owner.page)).length, 2, 'dan is not in');

  await owner.page.click('#lock-toggle');
  for (const u of [owner, bob]) {
    await waitUntil(async () => (await u.page.textContent('#lock-status')) === '', { message: 'unlocked' });
    await waitForNotice(u.page, 'The room is unlocked');
  }
  await dan.page.click('#try-again');
  await submitJoin(dan.page, { alias: 'dan' });
  await dan.page.locator('#room-view').waitFor();
  await waitForNotice(owner.page, 'dan joined');
  await closeAll([owner, bob, dan]);
});

test('report: a member reports a message with a note; only the owner sees the card', { timeout: 90000 }, async () => {
  const { owner, users: [alice, bob, carol] } = await room(['alice', 'bob', 'carol']);
  await owner.page.locator('#owner-badge').waitFor({ state: 'visible' });
  await send(alice.page, 'meet me **alone** <b>tonight</b>');
  for (const u of [owner, bob, carol]) await waitForMessage(u.page, 'meet me');
  // Received messages have Report; one's own and the owner's view do not.
  assert.equal(await messageLi(alice.page, 'meet me').locator('[data-testid=report-button]').count(), 0);
  assert.equal(await messageLi(owner.page, 'meet me').locator('[data-testid=report-button]').count(), 0);
  assert.equal(await messageLi(carol.page, 'meet me').locator('[data-testid=report-button]').count(), 1);
  assert.equal((await stats(bob.page)).reportable, 1);

  await messageLi(bob.page, 'meet me').locator('[data-testid=report-button]').click();
  await bob.page.locator('#report-dialog').waitFor();
  assert.match(await bob.page.textContent('[data-testid=report-excerpt]') ?? '', /meet me/);
  await bob.page.fill('#report-note', 'x'.repeat(501));
  await bob.page.click('#report-submit');
  assert.match(await bob.page.textContent('#report-error') ?? '', /too long/);
  await bob.page.fill('#report-note', 'she keeps sending this <i>to everyone</i>');
  await bob.page.click('#report-submit');
  await waitUntil(async () => (await messageLi(bob.page, 'meet me').locator('[data-testid=report-state]').textContent()) === 'Reported',
    { message: 'bob sees Reported' });

  const card = owner.page.locator('[data-testid=report-card]');
  await card.waitFor();
  assert.equal(await card.locator('[data-testid=report-reporter]').textContent(), 'bob');
  assert.equal(await card.locator('[data-testid=report-sender]').textContent(), 'alice');
  const fpAlice = (await members(owner.page)).find((m) => m.alias === 'alice')?.fingerprint;
  assert.equal(await card.locator('[data-testid=report-fingerprint]').textContent(), fpAlice);
  assert.equal((await card.locator('[data-testid=report-text]').textContent())?.trim(), 'meet me alone <b>tonight</b>');
  assert.equal(await card.locator('[data-testid=report-text] b').count(), 0, 'the reported text is never raw HTML');
  assert.equal(await card.locator('[data-testid=report-text] strong').count(), 1, 'it goes through the Markdown path');
  assert.equal(await card.locator('[data-testid=report-note]').textContent(), 'she keeps sending this <i>to everyone</i>');
  assert.equal(await card.locator('[data-testid=report-note] i').count(), 0);

  // Nobody else got anything: no card, and no kind-7 envelope reached them.
  for (const u of [alice, carol]) {
    assert.equal(await u.page.locator('[data-testid=report-card]').count(), 0);
    assert.equal(envelopes(u, 'received', 7).length, 0);
  }
  assert.equal(envelopes(owner, 'received', 7).length, 1);
  assert.equal(envelopes(bob, 'sent', 7).length, 1);

  // Dismiss takes the card away; Remove on a second report removes alice.
  await card.locator('[data-testid=report-dismiss]').click();
  await waitUntil(async () => (await card.count()) === 0, { message: 'card dismissed' });
  await send(alice.page, 'second strike');
  await waitForMessage(carol.page, 'second strike');
  await messageLi(carol.page, 'second strike').locator('[data-testid=report-button]').click();
  await carol.page.click('#report-submit');
  await card.waitFor();
  assert.equal(await card.locator('[data-testid=report-note]').textContent(), 'No note.');
  await card.locator('[data-testid=report-kick]').click();
  await owner.page.click('#kick-dialog-confirm');
  await alice.page.locator('#notice-view[data-kind=removed]').waitFor();
  await waitForNotice(carol.page, 'alice was removed by the owner');
  await card.locator('[data-testid=report-gone]').waitFor();
  assert.equal(await card.locator('[data-testid=report-kick]').count(), 0, 'no Remove for someone gone');
  for (const u of [owner, alice, bob, carol]) assert.deepEqual(u.errors, []);
  await closeAll([owner, alice, bob, carol]);
});

test('become owner by key; a report with no owner in the room is refused', { timeout: 90000 }, async () => {
  // The creator takes the link and key and never enters.
  const creator = await newUser(browser);
  const created = await createRoom(creator.page, srv.url, { name: 'ownerless' });
  await creator.context.close();
  const link = testLink(created.link);
  const alice = await newUser(browser);
  const bob = await newUser(browser);
  await joinRoom(alice.page, link, { alias: 'alice' });
  await joinRoom(bob.page, link, { alias: 'bob' });
  await waitUntil(async () => (await members(alice.page)).length === 2, { message: 'two members' });
  await send(alice.page, 'report me');
  await waitForMessage(bob.page, 'report me');
  await messageLi(bob.page, 'report me').locator('[data-testid=report-button]').click();
  await bob.page.fill('#report-note', 'anyone?');
  await bob.page.click('#report-submit');
  await waitUntil(async () => /The owner is not in the room; the report was not sent/.test(await bob.page.textContent('#room-alert') ?? ''),
    { message: 'no-owner alert' });
  await waitUntil(async () => /not sent/.test(await messageLi(bob.page, 'report me').locator('[data-testid=report-state]').textContent() ?? ''),
    { message: 'report marked not sent' });

  // Bob pastes a wrong key, then the right one.
  await bob.page.click('#room-menu-toggle');
  await bob.page.click('#owner-claim');
  await bob.page.locator('#owner-claim-dialog').waitFor();
  assert.equal(await bob.page.getAttribute('#owner-claim-input', 'type'), 'password');
  await bob.page.fill('#owner-claim-input', 'B'.repeat(42) + 'A');
  await bob.page.click('#owner-claim-submit');
  await waitUntil(async () => /not the owner key of this room/.test(await bob.page.textContent('#room-alert') ?? ''),
    { message: 'wrong key alert' });
  assert.equal(await bob.page.isVisible('#owner-badge'), false);
  await bob.page.click('#room-menu-toggle');
  await bob.page.click('#owner-claim');
  await bob.page.fill('#owner-claim-input', created.ownerKey);
  await bob.page.click('#owner-claim-submit');
  await bob.page.locator('#owner-badge').waitFor({ state: 'visible' });
  assert.equal(await bob.page.isVisible('#owner-claim'), false, 'no "Become owner" once owner');
  assert.equal(await messageLi(bob.page, 'report me').locator('[data-testid=report-button]').count(), 0, 'an owner reports nothing');

  // Now alice's report of bob's message reaches bob.
  await send(bob.page, 'owner speaking');
  await waitForMessage(alice.page, 'owner speaking');
  await messageLi(alice.page, 'owner speaking').locator('[data-testid=report-button]').click();
  await alice.page.click('#report-submit');
  const card = bob.page.locator('[data-testid=report-card]');
  await card.waitFor();
  assert.equal(await card.locator('[data-testid=report-sender]').textContent(), 'bob');
  assert.equal(await card.locator('[data-testid=report-kick]').count(), 0, 'an owner cannot remove itself');
  // The key never went to storage, and the page never logged it.
  for (const u of [alice, bob]) {
    const stored = await u.page.evaluate(() => localStorage.length + sessionStorage.length);
    assert.equal(stored, 0);
  }
  await closeAll([alice, bob]);
});

test('mute: hidden for the one who muted, shown to the others, nothing sent', { timeout: 60000 }, async () => {
  const { owner, users: [alice, bob, carol] } = await room(['alice', 'bob', 'carol']);
  const sentBefore = bob.sockets.flatMap((s) => s.sent).length;
  const menu = await memberMenu(bob.page, 'alice');
  await menu.locator('[data-testid=mute-button]').click();
  await waitUntil(async () => (await bob.page.getAttribute('#member-list > li:has([data-testid=muted-badge])', 'data-muted')) === 'true',
    { message: 'alice marked muted' });
  await send(alice.page, 'noise from alice');
  await send(alice.page, 'more noise');
  await waitForMessage(carol.page, 'more noise');
  await waitForMessage(bob.page, 'more noise');
  assert.equal(await messageLi(carol.page, 'noise from alice').isVisible(), true);
  assert.equal(await messageLi(bob.page, 'noise from alice').isVisible(), false);
  assert.equal(await messageLi(bob.page, 'more noise').isVisible(), false);
  const line = bob.page.locator('[data-testid=muted-line]');
  assert.equal(await line.count(), 1, 'one collapsed line');
  assert.equal(await line.textContent(), '2 messages from a muted member');
  // Others still show.
  await send(carol.page, 'carol is fine');
  await waitForMessage(bob.page, 'carol is fine');
  assert.equal(await messageLi(bob.page, 'carol is fine').isVisible(), true);
  // Muting sent nothing to anyone.
  const bobSent = bob.sockets.flatMap((s) => s.sent).slice(sentBefore).filter((f) => f[0] !== 0x09);
  assert.equal(bobSent.length, 0, `bob sent ${bobSent.map((f) => f[0])}`);

  await (await memberMenu(bob.page, 'alice')).locator('[data-testid=unmute-button]').click();
  await waitUntil(() => messageLi(bob.page, 'noise from alice').isVisible(), { message: 'shown again' });
  assert.equal(await bob.page.locator('[data-testid=muted-line]').count(), 0);
  await closeAll([owner, alice, bob, carol]);
});

test('word filter: hides or blurs a match for the one who set it only', { timeout: 60000 }, async () => {
  const { owner, users: [alice, bob, carol] } = await room(['alice', 'bob', 'carol']);
  await bob.page.click('#room-menu-toggle');
  await bob.page.click('#filter-open');
  await bob.page.locator('#filter-dialog').waitFor();
  assert.equal(await bob.page.isChecked('#filter-hide'), true, 'hide by default');
  await bob.page.fill('#filter-words', 'Pineapple\nthe ending');
  await bob.page.click('#filter-save');
  await send(alice.page, 'I love PINEAPPLE pizza');
  await send(alice.page, 'nothing to see');
  await waitForMessage(bob.page, 'nothing to see');
  await waitForMessage(carol.page, 'nothing to see');
  assert.equal(await messageLi(bob.page, 'PINEAPPLE').isVisible(), false);
  assert.equal(await messageLi(bob.page, 'nothing to see').isVisible(), true);
  assert.equal(await messageLi(carol.page, 'PINEAPPLE').isVisible(), true, 'carol set no filter');
  const line = bob.page.locator('[data-testid=filtered-line]');
  assert.equal(await line.count(), 1);
  await line.locator('[data-testid=filter-show]').click();
  assert.equal(await messageLi(bob.page, 'PINEAPPLE').isVisible(), true, 'Show reveals it');

  // Blur instead.
  await bob.page.click('#room-menu-toggle');
  await bob.page.click('#filter-open');
  assert.equal(await bob.page.inputValue('#filter-words'), 'pineapple\nthe ending');
  await bob.page.check('#filter-blur');
  await bob.page.click('#filter-save');
  await send(alice.page, 'spoiler: THE  ending was sad');
  await waitForMessage(bob.page, 'ending was sad');
  const li = messageLi(bob.page, 'ending was sad');
  await waitUntil(async () => (await li.getAttribute('class'))?.includes('blurred'), { message: 'blurred' });
  assert.equal(await li.isVisible(), true);
  assert.equal(await li.locator('.msg-body').getAttribute('aria-hidden'), 'true');
  assert.ok(!(await messageLi(carol.page, 'ending was sad').getAttribute('class'))?.includes('blurred'));
  await li.locator('[data-testid=filter-show]').click();
  assert.ok(!(await li.getAttribute('class'))?.includes('blurred'), 'Show unblurs');

  // Turn it off: everything shows; nothing was stored anywhere.
  await bob.page.click('#room-menu-toggle');
  await bob.page.click('#filter-open');
  await bob.page.click('#filter-off');
  await waitUntil(async () => (await bob.page.locator('#messages li.hidden-line, #messages li.blurred').count()) === 0,
    { message: 'filter off' });
  const stored = await bob.page.evaluate(async () => localStorage.length + sessionStorage.length
    + (indexedDB.databases ? (await indexedDB.databases()).length : 0));
  assert.equal(stored, 0);
  await closeAll([owner, alice, bob, carol]);
});

test('ACTIVE after a key or a click, at most once a minute; not on a mouse move', { timeout: 60000 }, async () => {
  const { owner, users: [bob] } = await room(['bob']);
  const active = () => bob.sockets.flatMap((s) => s.sent).filter((f) => f.length === 1 && f[0] === 0x09).length;
  await bob.page.mouse.move(200, 200);
  await bob.page.mouse.move(400, 300);
  // A mouse move sends nothing; a key does (read once the frame is out).
  await bob.page.keyboard.press('Shift');
  await waitUntil(() => active() === 1, { message: 'ACTIVE after a key' });
  assert.equal(active(), 1);
  await bob.page.mouse.click(300, 300);
  await bob.page.keyboard.press('Shift');
  // Not again within the minute: age the last one instead of waiting.
  await send(bob.page, 'a round trip so the clicks above were seen');
  await waitForMessage(owner.page, 'a round trip');
  assert.equal(active(), 1);
  await bob.page.evaluate(() => /** @type {any} */ (window).__veilTest.ageActive(60000));
  await bob.page.mouse.move(10, 10);
  await send(owner.page, 'ping');
  await waitForMessage(bob.page, 'ping');
  assert.equal(active(), 1, 'a mouse move is not activity');
  await bob.page.mouse.click(300, 300);
  await waitUntil(() => active() === 2, { message: 'ACTIVE after a click, a minute later' });
  await closeAll([owner, bob]);
});

test('the relay\'s idle close shows its page with a way to join again', { timeout: 60000 }, async () => {
  const owner = await newUser(browser);
  const { link } = await createRoom(owner.page, srv.url, { name: 'idle' });
  const bob = await newUser(browser);
  const tap = await tapSocket(bob.page);
  await joinRoom(bob.page, link, { alias: 'bob' });
  tap.closePage(4015, 'idle for too long');
  await bob.page.locator('#notice-view[data-kind=idle]').waitFor();
  assert.match(await bob.page.textContent('#notice-text') ?? '', /You were disconnected after a long time without activity/);
  await bob.page.click('#rejoin');
  await bob.page.locator('#join-form').waitFor();
  await closeAll([owner, bob]);
});

test('with the Go client: a browser owner gets and acts on Go reports; a Go owner gets browser reports', { timeout: 120000 }, async () => {
  const { owner, users: [bob], link, ownerKey } = await room(['bob']);
  await owner.page.locator('#owner-badge').waitFor({ state: 'visible' });
  /** @type {import('./lib/bot.mjs').Bot[]} */
  const bots = [];
  try {
    const go = await startBot(link.replace('/?test#', '/#'), { alias: 'gopher' });
    bots.push(go);
    const ready = await go.wait((e) => e.event === 'ready', 'ready');
    await waitForNotice(owner.page, 'gopher joined');
    await waitForNotice(bob.page, 'gopher joined');

    // The Go client reports bob's message; the browser owner opens and checks it.
    await send(bob.page, 'a line from the browser');
    const got = await go.wait((e) => e.event === 'msg' && e.text === 'a line from the browser', 'bob\'s message');
    go.send({ report: got.id, note: 'from Go, with ünïcode' });
    await go.wait((e) => e.event === 'reported', 'reported');
    const card = owner.page.locator('[data-testid=report-card]');
    await card.waitFor();
    assert.equal(await card.locator('[data-testid=report-reporter]').textContent(), 'gopher');
    assert.equal(await card.locator('[data-testid=report-sender]').textContent(), 'bob');
    assert.equal((await card.locator('[data-testid=report-text]').textContent())?.trim(), 'a line from the browser');
    assert.equal(await card.locator('[data-testid=report-note]').textContent(), 'from Go, with ünïcode');
    await card.locator('[data-testid=report-dismiss]').click();

    // Bob reports the Go client's message; the card names it with the fingerprint Go has.
    go.send({ say: 'a line from Go' });
    await waitForMessage(bob.page, 'a line from Go');
    await messageLi(bob.page, 'a line from Go').locator('[data-testid=report-button]').click();
    await bob.page.click('#report-submit');
    await card.waitFor();
    assert.equal(await card.locator('[data-testid=report-sender]').textContent(), 'gopher');
    assert.equal(await card.locator('[data-testid=report-fingerprint]').textContent(), ready.fingerprint);

    // The browser owner removes the Go client from the card.
    await card.locator('[data-testid=report-kick]').click();
    await owner.page.click('#kick-dialog-confirm');
    const closed = await go.wait((e) => e.event === 'closed', 'closed');
    assert.equal(closed.code, 4012);
    await waitForNotice(bob.page, 'gopher was removed by the owner');

    // A Go owner: it claims the key, gets bob's report of olga's message, locks, and removes bob.
    const gov = await startBot(link.replace('/?test#', '/#'), { alias: 'go-owner' });
    bots.push(gov);
    await gov.wait((e) => e.event === 'ready', 'ready');
    gov.send({ claim: ownerKey });
    await gov.wait((e) => e.event === 'state' && e.owner === true, 'owner state');
    await send(owner.page, 'olga says something');
    await waitForMessage(bob.page, 'olga says something');
    await messageLi(bob.page, 'olga says something').locator('[data-testid=report-button]').click();
    await bob.page.fill('#report-note', 'to the Go owner');
    await bob.page.click('#report-submit');
    const rep = await gov.wait((e) => e.event === 'report', 'report');
    assert.equal(rep.from, 'olga');
    assert.equal(rep.text, 'olga says something');
    assert.equal(rep.reporter, 'bob');
    assert.equal(rep.note, 'to the Go owner');
    assert.equal(rep.fingerprint, (await members(bob.page)).find((m) => m.alias === 'olga')?.fingerprint);
    gov.send({ lock: true });
    for (const u of [owner, bob]) {
      await waitUntil(async () => (await u.page.textContent('#lock-status')) === 'Room locked: nobody new can join', { message: 'locked by Go' });
    }
    gov.send({ kick: 'bob' });
    await bob.page.locator('#notice-view[data-kind=removed]').waitFor();
    await waitForNotice(owner.page, 'bob was removed by the owner');
  } finally {
    for (const b of bots) await b.stop();
  }
  await closeAll([owner, bob]);
});
