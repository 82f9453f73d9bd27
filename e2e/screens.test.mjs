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
import { launch } from './lib/browser.mjs';
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
      const { a, b } = await busyRoom(browser, srv.url, { viewport, colorScheme: scheme, onStep: shot });
      await shot('room', a.page);
      assert.ok(await onScreen(a.page, '#send'), 'the Send button is on screen');
      assert.ok(await onScreen(a.page, '#message-input'), 'the composer is on screen');
      await b.page.locator('#messages > li[data-testid=message]').first().locator('[data-testid=reply-button]').click();
      await shot('room-receiver-replying', b.page);
      if (size === 'phone') {
        await b.page.click('#members-toggle');
        await shot('room-members-open', b.page);
      }
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
