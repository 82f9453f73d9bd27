// A room with some life in it (group messages, Markdown, a verified member,
// a DM with its safety code, a reply, a self-destructing message, join
// notices) for the accessibility checks and
// the screenshots.

import {
  newUser, createRoom, joinRoom, submitJoin, send, startDM, members, verifyMember, waitForMessage, waitUntil,
} from './browser.mjs';

/**
 * @param {import('playwright-core').Browser} browser
 * @param {string} base
 * @param {{viewport?: {width: number, height: number}, colorScheme?: 'light'|'dark', onStep?: (step: string, page: import('playwright-core').Page) => Promise<void>}} [o]
 */
export async function busyRoom(browser, base, o = {}) {
  const step = o.onStep ?? (async () => {});
  const a = await newUser(browser, { viewport: o.viewport, colorScheme: o.colorScheme });
  const b = await newUser(browser, { viewport: o.viewport, colorScheme: o.colorScheme });
  await a.page.goto(`${base}/`);
  await a.page.locator('#create-form').waitFor();
  await step('create', a.page);
  const { link } = await createRoom(a.page, base, { name: 'Thursday support circle' });
  await step('created', a.page);
  await a.page.click('#enter-room');
  await a.page.locator('#join-form').waitFor();
  await a.page.fill('#alias', 'quiet-otter');
  await step('join', a.page);
  await submitJoin(a.page, {});
  await a.page.locator('#room-view').waitFor();
  await joinRoom(b.page, link, { alias: 'brave-heron' });
  await waitUntil(async () => (await members(a.page)).length === 2);

  await send(a.page, 'Welcome! Nothing here is stored, and the room **vanishes** when the timer runs out.');
  await waitForMessage(b.page, 'Welcome!');
  await send(b.page, 'Thanks. Here is the plan:\n\n1. read the `notes`\n2. meet on [the site](https://example.com)\n\n```\nrun --fast\n```');
  await waitForMessage(a.page, 'Here is the plan');
  await b.page.locator('#messages > li[data-testid=message]', { hasText: 'Welcome!' }).locator('[data-testid=reply-button]').click();
  await send(b.page, 'Good to know, thank you.');
  await waitForMessage(a.page, 'Good to know');
  await verifyMember(a.page, 'brave-heron');
  await startDM(a.page, 'brave-heron');
  await send(a.page, 'Just between us: _you are doing great_.');
  await waitForMessage(b.page, 'Just between us');
  await waitUntil(() => a.page.locator('[data-testid=dm-safety]').count(), { message: 'DM safety code shown' });
  await step('room-dm', a.page);
  await a.page.click('#dm-cancel');
  await send(a.page, 'This one disappears in an hour.', { ttl: '3600' });
  await waitForMessage(b.page, 'disappears in an hour');
  await a.page.selectOption('#ttl-select', '0');
  return { a, b, link };
}
