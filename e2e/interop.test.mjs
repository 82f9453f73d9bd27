// The browser and the Go client (internal/client, driven through the
// internal/vtest/vbot test member) in one room: group messages and DMs both
// ways, each side starting a DM session once, and the member and DM safety
// codes equal on both screens. The bots announce ML-KEM-768; the browser
// does not, so their DM sessions must be classic X25519 ones.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, cleanBuild } from './lib/server.mjs';
import { startBot, cleanBot } from './lib/bot.mjs';
import {
  launch, newUser, createRoom, joinRoom, send, startDM, members, stats, testLink,
  waitForMessage, waitForNotice, waitUntil, SAFETY,
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

test('browser and Go client: group messages and DMs both ways, equal safety codes', { timeout: 120000 }, async () => {
  const a = await newUser(browser);
  const password = 'shared secret words';
  const { link } = await createRoom(a.page, srv.url, { name: 'interop', password });
  await joinRoom(a.page, testLink(link), { alias: 'alice', password });

  /** @type {import('./lib/bot.mjs').Bot[]} */
  const bots = [];
  try {
    const go = await startBot(link, { alias: 'gopher', password });
    bots.push(go);
    const ready = await go.wait((e) => e.event === 'ready', 'ready');
    assert.equal(ready.alias, 'gopher');
    await waitForNotice(a.page, 'gopher joined');

    // Member safety code and fingerprint: the same on both sides.
    const onA = await waitUntil(async () => (await members(a.page)).find((m) => m.alias === 'gopher'), { message: 'gopher listed' });
    assert.equal(onA.fingerprint, ready.fingerprint, 'the browser shows the fingerprint the bot has');
    go.send({ safety: 'alice' });
    const sa = await go.wait((e) => e.event === 'safety' && e.alias === 'alice', 'safety answer');
    assert.match(onA.safety, SAFETY);
    assert.equal(sa.member, onA.safety, 'member safety code equal in Go and in the browser');

    // Group messages both ways.
    go.send({ say: 'hello from **Go**' });
    const fromGo = await waitForMessage(a.page, 'hello from Go');
    assert.equal(fromGo.alias, 'gopher');
    assert.equal(fromGo.kind, 'msg');
    await send(a.page, 'hello from the browser');
    const got = await go.wait((e) => e.event === 'msg' && e.text === 'hello from the browser', 'the browser\'s group message');
    assert.equal(got.from, 'alice');

    // A DM the browser starts (browser offers, Go accepts), answered by Go.
    await startDM(a.page, 'gopher');
    await send(a.page, 'browser to Go, privately');
    const dmOnGo = await go.wait((e) => e.event === 'dm' && e.text === 'browser to Go, privately', 'the browser\'s DM');
    assert.equal(dmOnGo.from, 'alice');
    assert.ok(!dmOnGo.hybrid, 'no ML-KEM with a browser');
    const dmCode = await waitUntil(() => a.page.textContent('[data-testid=dm-safety]'), { message: 'DM safety code in the browser' });
    assert.match(dmCode ?? '', SAFETY);
    assert.equal(dmOnGo.safety, dmCode, 'DM safety code equal in Go and in the browser');
    go.send({ dm: 'alice', text: 'Go to browser, privately' });
    const dmOnA = await waitForMessage(a.page, 'Go to browser, privately');
    assert.equal(dmOnA.kind, 'dm');
    assert.equal(dmOnA.alias, 'gopher');
    go.send({ safety: 'alice' });
    await go.wait((e) => e.event === 'safety' && e.dm === dmCode, 'the bot reports the same DM code');

    // A DM the Go client starts (Go offers, the browser accepts).
    const go2 = await startBot(link, { alias: 'gopher-two', password });
    bots.push(go2);
    await go2.wait((e) => e.event === 'ready', 'second bot ready');
    await waitForNotice(a.page, 'gopher-two joined');
    // The bot knows alice (and holds her key) once it reads her.
    await a.page.click('#dm-cancel');
    await send(a.page, 'welcome, second bot');
    await go2.wait((e) => e.event === 'msg' && e.text === 'welcome, second bot', 'the second bot reads alice');
    go2.send({ dm: 'alice', text: 'second bot opens a DM' });
    const dm2 = await waitForMessage(a.page, 'second bot opens a DM');
    assert.equal(dm2.kind, 'dm');
    await startDM(a.page, 'gopher-two');
    const dmCode2 = await a.page.textContent('[data-testid=dm-safety]');
    assert.match(dmCode2 ?? '', SAFETY);
    assert.notEqual(dmCode2, dmCode);
    await send(a.page, 'browser answers the second bot');
    const back2 = await go2.wait((e) => e.event === 'dm' && e.text === 'browser answers the second bot', 'the browser\'s answer');
    assert.equal(back2.safety, dmCode2, 'DM safety code equal when Go started the session');
    go2.send({ safety: 'alice' });
    const sa2 = await go2.wait((e) => e.event === 'safety' && e.alias === 'alice' && e.dm, 'second bot safety answer');
    assert.equal(sa2.member, (await members(a.page)).find((m) => m.alias === 'gopher-two')?.safety);

    // The two Go clients between themselves still read the browser's group messages.
    await a.page.click('#dm-cancel');
    await send(a.page, 'to everyone');
    for (const b of [go, go2]) await b.wait((e) => e.event === 'msg' && e.text === 'to everyone', 'group message on both bots');

    // A Go client leaves: the browser starts a new epoch, and the other bot reads it.
    const before = (await stats(a.page)).epoch;
    await go.stop();
    await waitForNotice(a.page, 'gopher left');
    await waitUntil(async () => (await stats(a.page)).epoch === before + 1, { message: 'new epoch after the bot left' });
    await send(a.page, 'after gopher left');
    await go2.wait((e) => e.event === 'msg' && e.text === 'after gopher left', 'the new epoch read by Go');
    go2.send({ say: 'still reading you' });
    await waitForMessage(a.page, 'still reading you');

    const s = await stats(a.page);
    assert.equal(s.rejected, 0, 'the browser rejected nothing from the Go clients');
    assert.equal(s.missing, 0);
    for (const b of bots) {
      const bad = b.events.filter((e) => ['reject', 'warning', 'error', 'gap'].includes(e.event));
      assert.deepEqual(bad, [], 'the Go clients rejected nothing from the browser');
    }
    assert.deepEqual(a.errors, []);
  } finally {
    for (const b of bots) await b.stop();
    await a.context.close();
  }
});
