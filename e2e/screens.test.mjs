// Screenshots of every view at phone (360x740) and desktop (1280x800) sizes,
// light and dark, for a person to look at. They go to $VEIL_SHOTS or
// <tmpdir>/veil-shots, never into the repository. The test also checks what
// a screenshot would show wrong: no sideways scrolling at 360 px, and the
// composer on screen in the room.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, cleanBuild } from './lib/server.mjs';
import { launch, newUser, joinRoom, submitJoin, send, waitForMessage } from './lib/browser.mjs';
import { busyRoom } from './lib/scene.mjs';

const SHOTS = process.env.VEIL_SHOTS || path.join(tmpdir(), 'veil-shots');

/** @type {import('./lib/server.mjs').Server} */
let srv;
/** @type {import('playwright-core').Browser} */
let browser;

before(async () => {
  srv = await startServer();
  browser = await launch();
  await mkdir(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await srv?.stop();
  await cleanBuild();
});

const SIZES = /** @type {const} */ ([['phone', { width: 360, height: 740 }], ['desktop', { width: 1280, height: 800 }]]);

/** @param {import('playwright-core').Page} page */
function overflow(page) {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

/** @param {import('playwright-core').Page} page */
async function onScreen(page, selector) {
  const box = await page.locator(selector).boundingBox();
  const vp = page.viewportSize();
  return !!box && !!vp && box.y >= 0 && box.y + box.height <= vp.height + 1 && box.x >= 0 && box.x + box.width <= vp.width + 1;
}

for (const [size, viewport] of SIZES) {
  for (const scheme of /** @type {const} */ (['light', 'dark'])) {
    test(`screenshots: ${size} ${scheme}`, { timeout: 60000 }, async () => {
      /** @param {string} name @param {import('playwright-core').Page} page */
      const shot = async (name, page) => {
        assert.ok(await overflow(page) <= 0, `${name} view scrolls sideways at ${viewport.width} px`);
        await page.screenshot({ path: path.join(SHOTS, `${size}-${scheme}-${name}.png`), fullPage: name !== 'room' });
      };
      const { a, b, link } = await busyRoom(browser, srv.url, { viewport, colorScheme: scheme, onStep: shot });
      await shot('room', a.page);
      assert.ok(await onScreen(a.page, '#send'), 'the Send button is on screen');
      assert.ok(await onScreen(a.page, '#message-input'), 'the composer is on screen');
      await b.page.locator('#messages > li[data-testid=message]').first().locator('[data-testid=reply-button]').click();
      await shot('room-receiver-replying', b.page);
      if (size === 'phone') {
        await b.page.click('#members-toggle');
        await shot('room-members-open', b.page);
      }
      await b.page.click('#reply-cancel');

      // Moderation: the creator (a) is the owner. A third member spams, b
      // reports it, a sees the card, opens the spammer's menu and locks the
      // room; a newcomer sees the locked page.
      await a.page.locator('#owner-badge').waitFor({ state: 'visible' });
      const spam = await newUser(browser, { viewport, colorScheme: scheme });
      await joinRoom(spam.page, link, { alias: 'loud-crow' });
      await send(spam.page, 'Buy followers now!!! **Limited offer**, DM me for the link.');
      await waitForMessage(a.page, 'Buy followers');
      await waitForMessage(b.page, 'Buy followers');
      await b.page.locator('#messages > li[data-testid=message]', { hasText: 'Buy followers' }).locator('[data-testid=report-button]').click();
      await b.page.locator('#report-dialog').waitFor();
      await b.page.fill('#report-note', 'This was sent to everyone, twice. Please remove them.');
      await shot('report-dialog', b.page);
      await b.page.click('#report-submit');
      await b.page.locator('[data-testid=report-state]').waitFor();
      await shot('room-reported', b.page);
      const card = a.page.locator('[data-testid=report-card]');
      await card.waitFor();
      await card.scrollIntoViewIfNeeded();
      await shot('room-owner-report', a.page);
      if ((await a.page.getAttribute('#members-toggle', 'aria-expanded')) === 'false') await a.page.click('#members-toggle');
      await a.page.locator('#member-list > li', { hasText: 'loud-crow' }).locator('[data-testid=member-menu-toggle]').click();
      await shot('member-menu', a.page);
      await a.page.keyboard.press('Escape');
      await b.page.click('#room-menu-toggle');
      await shot('room-menu', b.page);
      await b.page.click('#filter-open');
      await b.page.fill('#filter-words', 'spoiler\nthe ending');
      await shot('filter-dialog', b.page);
      await b.page.check('#filter-blur');
      await b.page.click('#filter-save');
      await a.page.click('#lock-toggle');
      await b.page.locator('#lock-status:not(:empty)').waitFor();
      await send(a.page, 'Spoiler: the ending is sad.');
      await waitForMessage(b.page, 'the ending is sad');
      await shot('room-locked-filtered', b.page);
      const c = await newUser(browser, { viewport, colorScheme: scheme });
      await c.page.goto(link);
      await submitJoin(c.page, { alias: 'late-comer' });
      await c.page.locator('#notice-view[data-kind=locked]').waitFor();
      await shot('locked', c.page);
      await c.context.close();
      await spam.context.close();

      await a.page.click('#purge');
      await a.page.locator('#purge-dialog').waitFor();
      await shot('purge-dialog', a.page);
      await a.page.click('#purge-dialog-confirm');
      await b.page.locator('#notice-view[data-kind=purged]').waitFor();
      await shot('purged', b.page);
      await a.context.close();
      await b.context.close();
    });
  }
}
