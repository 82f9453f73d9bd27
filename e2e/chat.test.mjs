// Two people in two browser contexts: create a room, join it, see each other
// with fingerprints, chat both ways with Markdown and replies, leave. Along
// the way: nothing is stored in the browser and nothing is requested from
// any host but the server.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, cleanBuild } from './lib/server.mjs';
import {
  launch, newUser, createRoom, joinRoom, submitJoin, send, messages, members, notices,
  waitForMessage, waitForNotice, waitUntil, foreignRequests,
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

const FP = /^[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}$/;

test('two members create, join, chat with Markdown and replies, and see each other leave', { timeout: 90000 }, async () => {
  const a = await newUser(browser);
  const b = await newUser(browser);

  // Create: the page hands over a link, a QR code and an owner key.
  const { link, ownerKey } = await createRoom(a.page, srv.url, { name: 'Book club' });
  assert.match(link, new RegExp(`^${srv.url}/#1\\.[A-Za-z0-9_-]{43}$`), 'link format');
  assert.match(ownerKey, /^[A-Za-z0-9_-]{43}$/, 'owner key is 32 bytes of base64url');
  const qr = await a.page.$eval('#qr', (c) => /** @type {HTMLCanvasElement} */ (c).width);
  assert.ok(qr >= 100, `QR canvas drawn (width ${qr})`);
  assert.match(await a.page.textContent('#owner-box'), /shown only this once/);

  // Enter: the fragment is set in place and the join form comes up.
  await a.page.click('#enter-room');
  assert.equal(new URL(a.page.url()).hash, new URL(link).hash, 'Enter room puts the link fragment in the address bar');
  await submitJoin(a.page, { alias: 'alice' });
  await a.page.locator('#room-view').waitFor();
  await joinRoom(b.page, link, { alias: 'bob' });

  // Both see the room name, a countdown and each other with fingerprints.
  assert.equal(await b.page.textContent('#room-name'), 'Book club');
  assert.match(await a.page.textContent('#countdown'), /^(1:00:00|59:\d\d)$/);
  const am = await waitUntil(async () => { const m = await members(a.page); return m.length === 2 && m; }, { message: 'alice sees 2 members' });
  const bm = await waitUntil(async () => { const m = await members(b.page); return m.length === 2 && m; }, { message: 'bob sees 2 members' });
  for (const m of [...am, ...bm]) assert.match(m.fingerprint, FP, `fingerprint of ${m.alias}`);
  const aliceSelf = am.find((m) => m.self);
  const bobSelf = bm.find((m) => m.self);
  assert.equal(aliceSelf?.alias, 'alice');
  assert.equal(bobSelf?.alias, 'bob');
  assert.equal(am.find((m) => m.alias === 'bob')?.fingerprint, bobSelf?.fingerprint, 'alice sees the fingerprint bob sees for himself');
  assert.equal(bm.find((m) => m.alias === 'alice')?.fingerprint, aliceSelf?.fingerprint, 'bob sees the fingerprint alice sees for herself');
  assert.equal(await a.page.textContent('[data-testid=member][data-self=true] .you'), ' (you)');

  // Join notices.
  await waitForNotice(a.page, 'bob joined');
  assert.ok((await notices(b.page)).some((n) => n.includes('You joined as bob')));

  // Chat both ways.
  await send(a.page, 'hello bob');
  const got = await waitForMessage(b.page, 'hello bob');
  assert.equal(got.alias, 'alice');
  assert.equal(got.self, false);
  await send(b.page, 'hi alice');
  await waitForMessage(a.page, 'hi alice');
  assert.deepEqual((await messages(a.page)).map((m) => [m.alias, m.body]), [['alice', 'hello bob'], ['bob', 'hi alice']]);
  assert.deepEqual((await messages(b.page)).map((m) => [m.alias, m.body]), [['alice', 'hello bob'], ['bob', 'hi alice']]);

  // Shift+Enter makes a new line instead of sending.
  await a.page.fill('#message-input', 'line one');
  await a.page.press('#message-input', 'Shift+Enter');
  await a.page.type('#message-input', 'line two');
  assert.equal(await a.page.inputValue('#message-input'), 'line one\nline two');
  await a.page.press('#message-input', 'Enter');
  await waitForMessage(b.page, 'line two');

  // Markdown renders: bold, inline code, code block, link with rel=noopener noreferrer.
  await send(a.page, '**bold words** and `tick` and [a link](https://example.com/page)\n\n```\nline 1\nline 2\n```\n\n> quoted');
  await waitForMessage(b.page, 'bold words');
  const md = await b.page.$eval('#messages > li[data-testid=message]:last-child [data-testid=message-body]', (body) => ({
    strong: body.querySelector('strong')?.textContent,
    code: body.querySelector('p code')?.textContent,
    pre: body.querySelector('pre code')?.textContent,
    quote: body.querySelector('blockquote')?.textContent?.trim(),
    href: body.querySelector('a')?.getAttribute('href'),
    rel: body.querySelector('a')?.getAttribute('rel'),
    target: body.querySelector('a')?.getAttribute('target'),
  }));
  assert.deepEqual(md, {
    strong: 'bold words', code: 'tick', pre: 'line 1\nline 2\n', quote: 'quoted',
    href: 'https://example.com/page', rel: 'noopener noreferrer', target: '_blank',
  });

  // Reply: the composer shows what is being answered, can be cancelled, and
  // the sent reply carries a quote above its body on both screens.
  const helloOnB = b.page.locator('#messages > li[data-testid=message]', { hasText: 'hello bob' });
  await helloOnB.locator('[data-testid=reply-button]').click();
  assert.equal(await b.page.isVisible('#reply-to'), true);
  assert.match(await b.page.textContent('#reply-to'), /Replying to alice: hello bob/);
  await b.page.click('#reply-cancel');
  assert.equal(await b.page.isVisible('#reply-to'), false, 'cancel hides the reply indicator');
  await helloOnB.locator('[data-testid=reply-button]').click();
  await send(b.page, 'this is my answer');
  assert.equal(await b.page.isVisible('#reply-to'), false, 'sending clears the reply');
  for (const p of [a.page, b.page]) {
    const r = await waitForMessage(p, 'this is my answer');
    assert.match(r.quote, /alice/);
    assert.match(r.quote, /hello bob/);
  }

  // Nothing in any browser storage, no cookie.
  for (const u of [a, b]) {
    const stored = await u.page.evaluate(async () => ({
      local: localStorage.length,
      session: sessionStorage.length,
      idb: (await indexedDB.databases()).length,
      cookie: document.cookie,
      caches: 'caches' in window ? (await caches.keys()).length : 0,
    }));
    assert.deepEqual(stored, { local: 0, session: 0, idb: 0, cookie: '', caches: 0 }, 'no storage used');
    const cookies = await u.context.cookies();
    assert.deepEqual(cookies, [], 'no cookies in the context');
  }

  // Leave by closing the tab: the other side is told at once.
  await b.page.close();
  await waitForNotice(a.page, 'bob left');
  await waitUntil(async () => (await members(a.page)).length === 1, { message: 'bob gone from the member list' });

  // Every request went to the server, and nothing threw.
  assert.deepEqual(foreignRequests(a.requests, srv.url), []);
  assert.deepEqual(foreignRequests(b.requests, srv.url), []);
  assert.deepEqual(a.errors, []);
  assert.deepEqual(b.errors, []);
  await a.context.close();
  await b.context.close();
});

test('refresh wipes the screen and re-enters as a new session; aliases are made distinct', { timeout: 60000 }, async () => {
  const a = await newUser(browser);
  const b = await newUser(browser);
  const { link } = await createRoom(a.page, srv.url);
  await joinRoom(a.page, link, { alias: 'Sam' });
  assert.equal(await a.page.textContent('#room-name'), 'Unnamed room');
  // Same alias, other case: the joiner's client makes it distinct.
  await joinRoom(b.page, link, { alias: 'sam' });
  const bSelf = (await members(b.page)).find((m) => m.self);
  assert.equal(bSelf?.alias, 'sam-2');
  await waitForNotice(a.page, 'sam-2 joined');

  // Invisible characters are removed from aliases.
  await send(a.page, 'before the refresh');
  await waitForMessage(b.page, 'before the refresh');
  const oldSession = bSelf?.session;
  await b.page.reload();
  await b.page.locator('#join-form').waitFor();
  assert.equal(await b.page.locator('#messages').count(), 0, 'screen wiped on refresh');
  assert.equal(new URL(b.page.url()).hash, new URL(link).hash, 'the fragment stays for a refresh');
  await waitForNotice(a.page, 'sam-2 left');
  await submitJoin(b.page, { alias: 'ro\u200bbin\u202e' });
  await b.page.locator('[data-testid=member][data-self=true]').waitFor();
  const again = (await members(b.page)).find((m) => m.self);
  assert.equal(again?.alias, 'robin');
  assert.notEqual(again?.session, oldSession, 'a refresh joins as a new session');
  assert.equal((await messages(b.page)).length, 0, 'no old messages after re-entering');
  await waitForNotice(a.page, 'robin joined');
  assert.deepEqual(a.errors, []);
  assert.deepEqual(b.errors, []);
  await a.context.close();
  await b.context.close();
});

test('notifications are opt-in, only while the tab is hidden, and never carry content', { timeout: 60000 }, async () => {
  const a = await newUser(browser);
  const b = await newUser(browser);
  // Stand-ins for the Notification API and document.hidden, which a headless
  // browser cannot show or change; they record what the page asks for.
  await a.context.addInitScript(() => {
    const w = /** @type {any} */ (window);
    w.__notes = [];
    function FakeNotification(/** @type {string} */ title, /** @type {object} */ opts) {
      w.__notes.push({ title, opts: JSON.stringify(opts ?? {}) });
    }
    FakeNotification.permission = 'default';
    FakeNotification.requestPermission = async () => { FakeNotification.permission = 'granted'; return 'granted'; };
    w.Notification = FakeNotification;
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => w.__hidden === true });
  });
  const { link } = await createRoom(a.page, srv.url);
  await joinRoom(a.page, link, { alias: 'alice' });
  await joinRoom(b.page, link, { alias: 'bob' });
  await waitUntil(async () => (await members(a.page)).length === 2);
  const notes = () => a.page.evaluate(() => /** @type {any} */ (window).__notes);

  // Off by default: nothing, even while hidden.
  await a.page.evaluate(() => { /** @type {any} */ (window).__hidden = true; });
  await send(b.page, 'before opting in');
  await waitForMessage(a.page, 'before opting in');
  assert.deepEqual(await notes(), []);

  await a.page.evaluate(() => { /** @type {any} */ (window).__hidden = false; });
  await a.page.click('#notify-toggle');
  await waitUntil(async () => (await a.page.getAttribute('#notify-toggle', 'aria-pressed')) === 'true', { message: 'toggle on' });
  await send(b.page, 'while visible');
  await waitForMessage(a.page, 'while visible');
  assert.deepEqual(await notes(), [], 'no notification while the tab is visible');

  await a.page.evaluate(() => { /** @type {any} */ (window).__hidden = true; });
  await send(b.page, 'very secret words');
  await waitForMessage(a.page, 'very secret words');
  const got = await notes();
  assert.equal(got.length, 1);
  assert.equal(got[0].title, 'New message in veil');
  assert.ok(!got[0].opts.includes('secret') && !got[0].opts.includes('bob'), `no content in the notification: ${got[0].opts}`);

  await a.page.evaluate(() => { /** @type {any} */ (window).__hidden = false; });
  await a.page.click('#notify-toggle');
  assert.equal(await a.page.getAttribute('#notify-toggle', 'aria-pressed'), 'false');
  await a.page.evaluate(() => { /** @type {any} */ (window).__hidden = true; });
  await send(b.page, 'after opting out');
  await waitForMessage(a.page, 'after opting out');
  assert.equal((await notes()).length, 1, 'no notification after opting out');
  await a.context.close();
  await b.context.close();
});
