// Invariant 5: peer text is never trusted as HTML. An XSS corpus sent as
// messages, as an alias and as a room name executes nothing: every payload
// would set window.__xss, and the page must end with it unset, with no
// dangerous element or attribute anywhere and no CSP violation reported.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, cleanBuild } from './lib/server.mjs';
import { launch, newUser, createRoom, joinRoom, submitJoin, send, messages, members, waitForMessage, waitUntil } from './lib/browser.mjs';

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

/** Message bodies: raw HTML, Markdown link and image tricks, encodings. */
const CORPUS = [
  '<img src=x onerror="window.__xss=1">',
  '<script>window.__xss=2</script>',
  '<svg onload="window.__xss=3"></svg>',
  '<svg><script>window.__xss=4</script></svg>',
  '<iframe src="javascript:parent.__xss=5"></iframe>',
  '<iframe srcdoc="<script>parent.__xss=6</script>"></iframe>',
  '[click me](javascript:window.__xss=7)',
  '[click me](JaVaScRiPt:window.__xss=8)',
  '[click me](&#106;avascript:window.__xss=9)',
  '[click me](data:text/html,<script>parent.__xss=10</script>)',
  '<javascript:window.__xss=11>',
  '![pic](x" onerror="window.__xss=12)',
  '![pic](javascript:window.__xss=13)',
  '<a href="javascript:window.__xss=14">raw link</a>',
  '<details open ontoggle="window.__xss=15">x</details>',
  '<math><mtext><table><mglyph><style><img src=x onerror="window.__xss=16">',
  '<form action="javascript:window.__xss=17"><button>go</button></form>',
  '<object data="javascript:window.__xss=18"></object><embed src="javascript:window.__xss=19">',
  '<style>@import "http://evil.example/x.css";</style>',
  '<body onload="window.__xss=20">',
  '<input autofocus onfocus="window.__xss=21">',
  '`<img src=x onerror="window.__xss=22">` and ```\n<script>window.__xss=23</script>\n```',
  '[x](https://example.com" onmouseover="window.__xss=24)',
  '<<img src=x onerror=window.__xss=25>',
  '<a href="https://example.com" onclick="window.__xss=26">ok link</a>',
  '<noscript><p title="</noscript><img src=x onerror=window.__xss=27>">',
];

/**
 * What the page holds that could run code.
 * @param {import('playwright-core').Page} page
 */
function inspect(page) {
  return page.evaluate(() => {
    const all = Array.from(document.querySelectorAll('*'));
    const onAttrs = all.flatMap((e) => Array.from(e.attributes).filter((a) => /^on/i.test(a.name)).map((a) => `${e.tagName}[${a.name}]`));
    const list = document.getElementById('messages');
    const bad = list ? Array.from(list.querySelectorAll('img, script, iframe, svg, math, object, embed, style, form, input, details, noscript, frame, frameset, link, meta, base, video, audio, source'))
      .map((e) => e.tagName) : [];
    const hrefs = Array.from(document.querySelectorAll('a[href]')).map((a) => a.getAttribute('href') ?? '')
      .filter((h) => !/^(https?:|mailto:)/i.test(h));
    const badRel = Array.from(document.querySelectorAll('#messages a')).filter((a) => a.getAttribute('rel') !== 'noopener noreferrer').length;
    return {
      // @ts-ignore
      xss: window.__xss ?? null,
      // @ts-ignore
      violations: window.__violations ?? [],
      onAttrs,
      bad,
      hrefs,
      badRel,
      frames: window.frames.length,
    };
  });
}

/** @param {import('./lib/browser.mjs').User} u */
async function watchViolations(u) {
  await u.context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      // @ts-ignore
      (window.__violations ||= []).push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
}

const CLEAN = { xss: null, violations: [], onAttrs: [], bad: [], hrefs: [], badRel: 0, frames: 0 };

test('an XSS corpus as messages, alias and room name executes nothing', { timeout: 120000 }, async () => {
  const a = await newUser(browser);
  const b = await newUser(browser);
  await watchViolations(a);
  await watchViolations(b);

  const roomName = '<img src=x onerror="window.__xss=100"><script>window.__xss=101</script>';
  const { link } = await createRoom(a.page, srv.url, { name: roomName });
  await a.page.click('#enter-room');
  await submitJoin(a.page, { alias: '<svg onload=window.__xss=102>' });
  await a.page.locator('#room-view').waitFor();
  await joinRoom(b.page, link, { alias: '<img src=x onerror=__xss=103>' });

  // Names arrive as text, exactly.
  assert.equal(await b.page.textContent('#room-name'), roomName);
  const seen = await waitUntil(async () => { const m = await members(b.page); return m.length === 2 && m; });
  assert.deepEqual(seen.map((m) => m.alias).sort(), ['<img src=x onerror=__xss=103>', '<svg onload=window.__xss=102>'].sort());

  for (const body of CORPUS) await send(a.page, body);
  await send(a.page, 'corpus done');
  await waitForMessage(b.page, 'corpus done', 20000);
  const got = await messages(b.page);
  assert.equal(got.length, CORPUS.length + 1, 'every payload arrived as a message');
  // Raw HTML shows as text: the person sees the tags, nothing runs.
  assert.ok(got[0].body.includes('<img src=x onerror="window.__xss=1">'), `raw HTML is shown as text: ${got[0].body}`);
  assert.ok(got[1].body.includes('<script>window.__xss=2</script>'));

  // Replies carry peer text too: quote one.
  await b.page.locator('#messages > li[data-testid=message]').nth(0).locator('[data-testid=reply-button]').click();
  await send(b.page, '<img src=x onerror="window.__xss=104">');
  await waitForMessage(a.page, 'window.__xss=104');

  // Poke the pages (hover, focus), then one more round trip each way so
  // anything deferred (image errors, autofocus, toggles) has had its chance.
  for (const u of [a, b]) {
    await u.page.hover('#messages');
    await u.page.keyboard.press('Tab');
  }
  await send(a.page, 'round trip one');
  await waitForMessage(b.page, 'round trip one');
  await send(b.page, 'round trip two');
  await waitForMessage(a.page, 'round trip two');
  for (const u of [a, b]) {
    assert.deepEqual(await inspect(u.page), CLEAN, 'nothing executable on the page');
    assert.deepEqual(u.errors, []);
  }
  await a.context.close();
  await b.context.close();
});
