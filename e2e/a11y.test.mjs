// Accessibility: axe-core finds no WCAG 2.0 A/AA or 2.1 AA violation on the
// create, created, join, room and notice views, in light and dark schemes
// (and with prefers-contrast: more, at desktop and phone widths); and the
// whole path from creating a room to sending a message works by keyboard
// alone with a visible focus ring. Moderation's views, dialogs and pages are
// checked the same way.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, cleanBuild } from './lib/server.mjs';
import { launch, newUser, joinRoom, submitJoin, waitForMessage, members, waitUntil } from './lib/browser.mjs';
import { axeViolations } from './lib/axe.mjs';
import { busyRoom } from './lib/scene.mjs';

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
 * Check the page in light, dark and high-contrast schemes.
 * @param {import('playwright-core').Page} page
 * @param {string} view
 */
async function checkSchemes(page, view) {
  for (const [colorScheme, contrast] of /** @type {const} */ ([['light', 'no-preference'], ['dark', 'no-preference'], ['light', 'more'], ['dark', 'more']])) {
    await page.emulateMedia({ colorScheme, contrast });
    const v = await axeViolations(page);
    assert.deepEqual(v, [], `axe on the ${view} view (${colorScheme}, contrast ${contrast})`);
  }
  await page.emulateMedia({ colorScheme: 'light', contrast: 'no-preference' });
}

test('axe: no violations on create, created, join, room and notice views, light and dark', { timeout: 120000 }, async () => {
  const { a, b } = await busyRoom(browser, srv.url, { onStep: (step, page) => checkSchemes(page, step) });
  await checkSchemes(a.page, 'room');
  await checkSchemes(b.page, 'room (receiving side)');

  // Composer with a reply and a DM target showing.
  await b.page.locator('#messages > li[data-testid=message]').first().locator('[data-testid=reply-button]').click();
  await b.page.locator('[data-testid=member]', { hasText: 'quiet-otter' }).locator('[data-testid=dm-button]').click();
  await checkSchemes(b.page, 'room with reply and DM indicators');

  // Phone width: the member list collapses behind a toggle.
  await b.page.setViewportSize({ width: 360, height: 740 });
  // The media-query change reaches the page a moment after the resize.
  await waitUntil(async () => (await b.page.getAttribute('#members-toggle', 'aria-expanded')) === 'false',
    { message: 'the member list collapses at 360 px' });
  assert.equal(await b.page.isVisible('#member-list'), false);
  await checkSchemes(b.page, 'room at 360 px');
  await b.page.click('#members-toggle');
  assert.equal(await b.page.isVisible('#member-list'), true);
  await checkSchemes(b.page, 'room at 360 px, members open');

  // Dialogs.
  await a.page.click('#purge');
  await a.page.locator('#purge-dialog').waitFor();
  await checkSchemes(a.page, 'purge confirmation');
  await a.page.keyboard.press('Escape');
  await waitUntil(async () => (await a.page.locator('#purge-dialog').count()) === 0, { message: 'Escape closes the dialog' });

  // Notice page after logging out.
  await b.page.click('#logout');
  await b.page.locator('#notice-view').waitFor();
  await checkSchemes(b.page, 'logged-out notice');
  await a.context.close();
  await b.context.close();
});

test('axe: moderation: owner badge, lock, report card, member menu, mute, word filter, their dialogs and pages', { timeout: 180000 }, async () => {
  const { a, b, link } = await busyRoom(browser, srv.url);
  const c = await newUser(browser);
  await joinRoom(c.page, link, { alias: 'loud-crow' });
  await waitUntil(async () => (await members(a.page)).length === 3);
  await a.page.locator('#owner-badge').waitFor({ state: 'visible' });
  await c.page.fill('#message-input', 'Buy followers now, spoiler inside');
  await c.page.press('#message-input', 'Enter');
  await waitForMessage(b.page, 'Buy followers');

  // The reporter's dialog, then the owner's card.
  await b.page.locator('#messages > li[data-testid=message]', { hasText: 'Buy followers' }).locator('[data-testid=report-button]').click();
  await b.page.locator('#report-dialog').waitFor();
  await b.page.fill('#report-note', 'spam');
  await checkSchemes(b.page, 'report dialog');
  await b.page.click('#report-submit');
  await a.page.locator('[data-testid=report-card]').waitFor();
  await checkSchemes(b.page, 'room with a reported message');

  // The owner: lock, the member menu open, the kick dialog.
  await a.page.click('#lock-toggle');
  await b.page.locator('#lock-status:not(:empty)').waitFor();
  await a.page.locator('#member-list > li', { hasText: 'loud-crow' }).locator('[data-testid=member-menu-toggle]').click();
  await checkSchemes(a.page, 'owner with a report card, locked, member menu open');
  await a.page.locator('#member-list > li', { hasText: 'loud-crow' }).locator('[data-testid=kick-button]').click();
  await a.page.locator('#kick-dialog').waitFor();
  await checkSchemes(a.page, 'kick dialog');
  await a.page.keyboard.press('Escape');

  // A member: the room menu, Become owner and the word filter; a muted member, a blurred and a hidden message.
  await b.page.click('#room-menu-toggle');
  await checkSchemes(b.page, 'room menu open');
  await b.page.click('#owner-claim');
  await b.page.locator('#owner-claim-dialog').waitFor();
  await checkSchemes(b.page, 'become-owner dialog');
  await b.page.keyboard.press('Escape');
  await b.page.click('#room-menu-toggle');
  await b.page.click('#filter-open');
  await b.page.fill('#filter-words', 'spoiler');
  await checkSchemes(b.page, 'word filter dialog');
  await b.page.check('#filter-blur');
  await b.page.click('#filter-save');
  await b.page.locator('#messages li.blurred').waitFor();
  await b.page.locator('#member-list > li', { hasText: 'quiet-otter' }).locator('[data-testid=member-menu-toggle]').click();
  await b.page.locator('#member-list > li', { hasText: 'quiet-otter' }).locator('[data-testid=mute-button]').click();
  await b.page.locator('[data-testid=muted-line]').first().waitFor();
  await checkSchemes(b.page, 'locked room with a muted member and a blurred message');
  await b.page.click('#room-menu-toggle');
  await b.page.click('#filter-open');
  await b.page.check('#filter-hide');
  await b.page.click('#filter-save');
  await b.page.locator('[data-testid=filtered-line]').first().waitFor();
  await checkSchemes(b.page, 'room with a hidden message');

  // The locked page, and the removed page.
  const d = await newUser(browser);
  await d.page.goto(link);
  await submitJoin(d.page, { alias: 'late' });
  await d.page.locator('#notice-view[data-kind=locked]').waitFor();
  await checkSchemes(d.page, 'locked page');
  await a.page.locator('#member-list > li', { hasText: 'loud-crow' }).locator('[data-testid=member-menu-toggle]').click();
  await a.page.locator('#member-list > li', { hasText: 'loud-crow' }).locator('[data-testid=kick-button]').click();
  await a.page.click('#kick-dialog-confirm');
  await c.page.locator('#notice-view[data-kind=removed]').waitFor();
  await checkSchemes(c.page, 'removed page');
  for (const u of [a, b, c, d]) await u.context.close();
});

/**
 * Press Tab until the element with this id has focus.
 * @param {import('playwright-core').Page} page
 * @param {string} id
 * @param {number} [max]
 */
async function tabTo(page, id, max = 25) {
  for (let i = 0; i < max; i++) {
    if (await page.evaluate((want) => document.activeElement?.id === want, id)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`#${id} never got focus by Tab`);
}

/** @param {import('playwright-core').Page} page */
function focusRing(page) {
  return page.evaluate(() => {
    const e = /** @type {HTMLElement} */ (document.activeElement);
    const s = getComputedStyle(e);
    return { id: e.id, style: s.outlineStyle, width: parseFloat(s.outlineWidth) };
  });
}

test('keyboard only: create, enter, join, send, reply and DM without a mouse', { timeout: 60000 }, async () => {
  const a = await newUser(browser);
  await a.page.goto(`${srv.url}/`);
  await a.page.locator('#create-form').waitFor();
  await tabTo(a.page, 'room-name');
  await a.page.keyboard.type('keyboard room');
  await tabTo(a.page, 'create-submit');
  const ring = await focusRing(a.page);
  assert.ok(ring.style !== 'none' && ring.width >= 2, `focus is visible on ${ring.id}: ${JSON.stringify(ring)}`);
  await a.page.keyboard.press('Enter');
  await a.page.locator('#created-view').waitFor();
  await tabTo(a.page, 'enter-room');
  await a.page.keyboard.press('Enter');
  await a.page.locator('#join-form').waitFor();
  await tabTo(a.page, 'alias');
  await a.page.keyboard.press('Control+A');
  await a.page.keyboard.type('keys');
  await a.page.keyboard.press('Enter');
  await a.page.locator('#room-view').waitFor();
  // Focus lands in the composer.
  await waitUntil(() => a.page.evaluate(() => document.activeElement?.id === 'message-input'), { message: 'composer focused on entry' });

  const b = await newUser(browser);
  const link = `${srv.url}/${new URL(a.page.url()).hash}`;
  await joinRoom(b.page, link, { alias: 'other' });
  await waitUntil(async () => (await members(a.page)).length === 2);

  await a.page.keyboard.type('typed with keys');
  await a.page.keyboard.press('Enter');
  await waitForMessage(b.page, 'typed with keys');

  // Reply to it by keyboard on the other side: Shift+Tab from the composer
  // reaches the last message's Reply button; Escape cancels the reply.
  await waitUntil(() => b.page.evaluate(() => document.activeElement?.id === 'message-input'));
  const activeTestID = () => b.page.evaluate(() => document.activeElement?.getAttribute('data-testid'));
  await b.page.keyboard.press('Shift+Tab');
  assert.equal(await activeTestID(), 'reply-button');
  await b.page.keyboard.press('Enter');
  assert.equal(await b.page.isVisible('#reply-to'), true);
  assert.equal(await activeTestID(), 'message-input', 'Reply moves focus to the composer');
  await b.page.keyboard.press('Escape');
  assert.equal(await b.page.isVisible('#reply-to'), false, 'Escape cancels the reply');
  await b.page.keyboard.press('Shift+Tab');
  await b.page.keyboard.press('Enter');
  await b.page.keyboard.type('answered by keyboard');
  await b.page.keyboard.press('Enter');
  const got = await waitForMessage(a.page, 'answered by keyboard');
  assert.match(got.quote, /typed with keys/);

  // Verify by keyboard: Tab reaches the member's Verify button; its dialog
  // opens on Cancel, so Enter there changes nothing, and Shift+Tab reaches
  // the confirmation.
  const activeA = () => a.page.evaluate(() => document.activeElement?.getAttribute('data-testid'));
  await tabTo(a.page, 'members-toggle');
  await a.page.keyboard.press('Tab');
  assert.equal(await activeA(), 'verify-button');
  await a.page.keyboard.press('Enter');
  await a.page.locator('#verify-dialog').waitFor();
  assert.equal(await activeA(), 'verify-dialog-cancel', 'the dialog opens on Cancel');
  await a.page.keyboard.press('Shift+Tab');
  assert.equal(await activeA(), 'verify-dialog-confirm');
  await a.page.keyboard.press('Enter');
  await waitUntil(async () => (await members(a.page)).find((m) => m.alias === 'other')?.verified, { message: 'verified by keyboard' });

  // DM by keyboard: Tab reaches the member's DM button.
  await tabTo(a.page, 'members-toggle');
  await a.page.keyboard.press('Tab');
  assert.equal(await activeA(), 'dm-button', 'once verified, the DM button follows the toggle');
  await a.page.keyboard.press('Enter');
  await a.page.keyboard.type('dm by keys');
  await a.page.keyboard.press('Enter');
  const dm = await waitForMessage(b.page, 'dm by keys');
  assert.equal(dm.kind, 'dm');
  await a.context.close();
  await b.context.close();
});
