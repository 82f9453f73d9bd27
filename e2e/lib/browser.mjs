// Headless Chromium (Debian's) driven by playwright-core, and the few user
// actions the browser tests repeat: create a room, join it, send a message.

import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.VEIL_CHROMIUM || '/usr/bin/chromium';

/**
 * Launch Debian's Chromium headless. fakeMedia: a fake microphone and
 * camera that need no permission prompt (for recording voice notes).
 * @param {{fakeMedia?: boolean}} [o]
 */
export function launch(o = {}) {
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
  if (o.fakeMedia) args.push('--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

/**
 * Poll fn until it returns a truthy value or the deadline passes.
 * @template T
 * @param {() => T|Promise<T>} fn
 * @param {{timeout?: number, interval?: number, message?: string}} [o]
 * @returns {Promise<T>}
 */
export async function waitUntil(fn, o = {}) {
  const deadline = Date.now() + (o.timeout ?? 10000);
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out: ${o.message ?? 'condition not met'} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    }
    await new Promise((r) => setTimeout(r, o.interval ?? 100));
  }
}

/**
 * @typedef {object} User
 * @property {import('playwright-core').BrowserContext} context
 * @property {import('playwright-core').Page} page
 * @property {string[]} requests   every URL this page requested
 * @property {string[]} errors     uncaught page errors and console errors
 * @property {{url: string, sent: Buffer[], received: Buffer[], closed: boolean}[]} sockets  WebSocket frames seen
 */

/**
 * A fresh browser context (no shared state with other users) and page.
 * @param {import('playwright-core').Browser} browser
 * frames: false keeps no WebSocket frames (sockets lists them without
 * payloads), for tests that move tens of MiB.
 * @param {{colorScheme?: 'light'|'dark', viewport?: {width: number, height: number}, bypassCSP?: boolean, frames?: boolean}} [o]
 * @returns {Promise<User>}
 */
export async function newUser(browser, o = {}) {
  const context = await browser.newContext({
    viewport: o.viewport ?? { width: 1280, height: 800 },
    colorScheme: o.colorScheme ?? 'light',
    bypassCSP: o.bypassCSP ?? false,
    reducedMotion: 'reduce',
  });
  const page = await context.newPage();
  /** @type {User} */
  const u = { context, page, requests: [], errors: [], sockets: [] };
  page.on('request', (r) => u.requests.push(r.url()));
  page.on('pageerror', (e) => u.errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') u.errors.push(`console: ${m.text()}`);
  });
  page.on('websocket', (ws) => {
    const rec = { url: ws.url(), sent: /** @type {Buffer[]} */ ([]), received: /** @type {Buffer[]} */ ([]), closed: false };
    u.sockets.push(rec);
    ws.on('close', () => { rec.closed = true; });
    if (o.frames === false) return;
    ws.on('framesent', (f) => rec.sent.push(Buffer.isBuffer(f.payload) ? f.payload : Buffer.from(f.payload)));
    ws.on('framereceived', (f) => rec.received.push(Buffer.isBuffer(f.payload) ? f.payload : Buffer.from(f.payload)));
  });
  return u;
}

/**
 * Create a room from the create page; returns the link and owner key shown.
 * @param {import('playwright-core').Page} page
 * @param {string} base server URL
 * @param {{name?: string, password?: string, ttl?: string, purge?: 'anyone'|'owner'}} [o]
 * @returns {Promise<{link: string, ownerKey: string}>}
 */
export async function createRoom(page, base, o = {}) {
  await page.goto(`${base}/`);
  await page.locator('#create-form').waitFor();
  if (o.name !== undefined) await page.fill('#room-name', o.name);
  if (o.password) await page.fill('#room-password', o.password);
  if (o.ttl) await page.selectOption('#room-ttl', o.ttl);
  if (o.purge === 'owner') await page.check('#purge-owner');
  await page.click('#create-submit');
  await page.locator('#created-view').waitFor({ timeout: 15000 });
  const link = await page.inputValue('#room-link');
  const ownerKey = await page.inputValue('#owner-key');
  return { link, ownerKey };
}

/**
 * Fill the join form on the current page and wait for the room view.
 * @param {import('playwright-core').Page} page
 * @param {{alias?: string, password?: string}} [o]
 */
export async function submitJoin(page, o = {}) {
  await page.locator('#join-form').waitFor();
  if (o.alias !== undefined) await page.fill('#alias', o.alias);
  if (o.password !== undefined) await page.fill('#join-password', o.password);
  await page.click('#join-submit');
}

/**
 * Open a link and join the room; waits until this member is in the list.
 * @param {import('playwright-core').Page} page
 * @param {string} link
 * @param {{alias?: string, password?: string}} [o]
 */
export async function joinRoom(page, link, o = {}) {
  await page.goto(link);
  await submitJoin(page, o);
  await page.locator('#room-view').waitFor({ timeout: 15000 });
  await page.locator('[data-testid=member][data-self=true]').waitFor({ state: 'attached' });
}

/**
 * Click the DM button of the member whose alias contains alias, opening the
 * member list first if it is collapsed (phone widths).
 * @param {import('playwright-core').Page} page
 * @param {string} alias
 */
export async function startDM(page, alias) {
  if ((await page.getAttribute('#members-toggle', 'aria-expanded')) === 'false') await page.click('#members-toggle');
  await page.locator('[data-testid=member]', { hasText: alias }).locator('[data-testid=dm-button]').click();
}

/**
 * Type a message and press Enter.
 * @param {import('playwright-core').Page} page
 * @param {string} text
 * @param {{ttl?: string}} [o]
 */
export async function send(page, text, o = {}) {
  if (o.ttl !== undefined) await page.selectOption('#ttl-select', o.ttl);
  await page.fill('#message-input', text);
  await page.press('#message-input', 'Enter');
  await waitUntil(async () => (await page.inputValue('#message-input')) === '', { message: 'composer cleared after send' });
}

/**
 * The messages on screen, as a person sees them.
 * @param {import('playwright-core').Page} page
 * @returns {Promise<{kind: string, self: boolean, alias: string, body: string, dm: string, quote: string, html: string}[]>}
 */
export function messages(page) {
  return page.$$eval('#messages > li[data-testid=message]', (lis) => lis.map((li) => ({
    kind: li.getAttribute('data-kind') ?? '',
    self: li.getAttribute('data-self') === 'true',
    alias: li.querySelector('[data-testid=message-alias]')?.textContent ?? '',
    body: li.querySelector('[data-testid=message-body]')?.textContent?.trim() ?? '',
    dm: li.querySelector('[data-testid=dm-tag]')?.textContent ?? '',
    quote: li.querySelector('[data-testid=reply-quote]')?.textContent ?? '',
    html: li.querySelector('[data-testid=message-body]')?.outerHTML ?? '',
  })));
}

/**
 * The system notices on screen.
 * @param {import('playwright-core').Page} page
 * @returns {Promise<string[]>}
 */
export function notices(page) {
  return page.$$eval('#messages > li[data-testid=notice] .sys-text', (ns) => ns.map((n) => n.textContent ?? ''));
}

/**
 * Wait until a message whose body contains text is on screen.
 * @param {import('playwright-core').Page} page
 * @param {string} text
 * @param {number} [timeout]
 */
export async function waitForMessage(page, text, timeout = 10000) {
  return waitUntil(async () => (await messages(page)).find((m) => m.body.includes(text)),
    { timeout, message: `message containing ${JSON.stringify(text)}` });
}

/**
 * Wait until a notice containing text is on screen.
 * @param {import('playwright-core').Page} page
 * @param {string} text
 * @param {number} [timeout]
 */
export async function waitForNotice(page, text, timeout = 10000) {
  return waitUntil(async () => (await notices(page)).find((n) => n.includes(text)),
    { timeout, message: `notice containing ${JSON.stringify(text)}` });
}

/**
 * The members listed on screen, with their fingerprints, member safety
 * codes (empty for oneself), DM safety codes (once a DM session exists) and
 * whether this person marked them verified.
 * @param {import('playwright-core').Page} page
 * @returns {Promise<{alias: string, fingerprint: string, safety: string, dmSafety: string, verified: boolean, self: boolean, session: string}[]>}
 */
export function members(page) {
  return page.$$eval('#member-list > li[data-testid=member]', (lis) => lis.map((li) => ({
    alias: li.querySelector('[data-testid=member-alias]')?.textContent ?? '',
    fingerprint: (li.querySelector('[data-testid=fingerprint]')?.textContent ?? '').replace('key fingerprint', '').trim(),
    safety: li.querySelector('[data-testid=member-safety]')?.textContent ?? '',
    dmSafety: li.querySelector('[data-testid=member-dm-safety]')?.textContent ?? '',
    verified: li.getAttribute('data-verified') === 'true',
    self: li.getAttribute('data-self') === 'true',
    session: li.getAttribute('data-session') ?? '',
  })));
}

/** A safety code as shown: 12 digits in groups of four. */
export const SAFETY = /^\d{4} \d{4} \d{4}$/;

/**
 * The same room link with ?test, so the page exposes window.__veilTest
 * (counters and epochs for the tests; main.js).
 * @param {string} link
 * @returns {string}
 */
export function testLink(link) {
  return link.replace('/#', '/?test#');
}

/**
 * The room's debug counters (a page opened with testLink only).
 * @param {import('playwright-core').Page} page
 * @returns {Promise<{session: number, epoch: number, sentInEpoch: number, epochsStarted: number, rejected: number,
 *   nokey: number, missing: number, recv: Record<string, number>, dms: Record<string, {sid: number, state: string, safety: string}>}>}
 */
export function stats(page) {
  return page.evaluate(() => /** @type {any} */ (window).__veilTest.stats());
}

/**
 * Envelope frames of one kind a user's page sent (dir 'sent') or received,
 * over every socket it opened. An ENVELOPE frame is 0x03 then the envelope,
 * so byte 2 is the suite and byte 3 the kind.
 * @param {User} u
 * @param {'sent'|'received'} dir
 * @param {number} kind
 * @returns {Buffer[]}
 */
export function envelopes(u, dir, kind) {
  return u.sockets.flatMap((s) => s[dir]).filter((f) => f[0] === 0x03 && f[3] === kind);
}

/**
 * Mark a member verified through the Verify button and its dialog.
 * @param {import('playwright-core').Page} page
 * @param {string} alias
 * @returns {Promise<string>} the safety code the dialog showed
 */
export async function verifyMember(page, alias) {
  if ((await page.getAttribute('#members-toggle', 'aria-expanded')) === 'false') await page.click('#members-toggle');
  await page.locator('[data-testid=member]', { hasText: alias }).locator('[data-testid=verify-button]').click();
  await page.locator('#verify-dialog').waitFor();
  const text = await page.textContent('#verify-dialog-text') ?? '';
  await page.click('#verify-dialog-confirm');
  await waitUntil(async () => (await members(page)).find((m) => m.alias === alias)?.verified, { message: `${alias} marked verified` });
  return /\d{4} \d{4} \d{4}/.exec(text)?.[0] ?? '';
}

/**
 * Assert-style helper for requests: every URL is on the server's origin
 * (blob: and data: URLs would be local too, but the client makes none).
 * @param {string[]} urls
 * @param {string} base
 * @returns {string[]} the offending URLs
 */
export function foreignRequests(urls, base) {
  const origin = new URL(base).origin;
  const wsOrigin = origin.replace(/^http/, 'ws');
  return urls.filter((u) => !(u.startsWith(`${origin}/`) || u === origin || u.startsWith(`${wsOrigin}/`)));
}
