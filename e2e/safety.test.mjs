// Suite 2 in two browsers (docs/protocol.md section 7): group messages and
// DMs travel in suite 2 only; member safety codes and DM safety codes are
// the same on both screens; Verify marks a member for this session only; and
// a tampering relay (a tap on one member's socket) gets nothing altered,
// replayed or forged onto the screen, while a dropped message shows as a gap.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, cleanBuild } from './lib/server.mjs';
import { tapSocket } from './lib/tap.mjs';
import {
  launch, newUser, createRoom, joinRoom, submitJoin, send, startDM, messages, members, notices, stats, envelopes,
  testLink, verifyMember, waitForMessage, waitForNotice, waitUntil, SAFETY,
} from './lib/browser.mjs';
import { parseLink, deriveRoom, newIdentity, sealHello } from '../internal/web/static/js/e2ee.js';

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

const KIND = { HELLO: 1, MSG: 2, DM: 3, SK: 4, DMH: 5 };

/**
 * Two members in a fresh room, both on ?test pages.
 * @param {{tapB?: boolean}} [o]
 */
async function pair(o = {}) {
  const a = await newUser(browser);
  const b = await newUser(browser);
  const tap = o.tapB ? await tapSocket(b.page) : null;
  const { link } = await createRoom(a.page, srv.url, { name: 'suite two' });
  await joinRoom(a.page, testLink(link), { alias: 'alice' });
  await joinRoom(b.page, testLink(link), { alias: 'bob' });
  for (const u of [a, b]) {
    await waitUntil(async () => (await members(u.page)).length === 2, { message: 'two members listed' });
  }
  return { a, b, link, tap };
}

test('group chat in suite 2, equal member and DM safety codes, Verify for this session', { timeout: 90000 }, async () => {
  const { a, b } = await pair();

  // Group chat both ways; every group envelope on the wire is suite 2.
  await send(a.page, 'hello in suite two');
  await waitForMessage(b.page, 'hello in suite two');
  await send(b.page, 'and back');
  await waitForMessage(a.page, 'and back');
  for (const u of [a, b]) {
    const msgs = envelopes(u, 'sent', KIND.MSG);
    assert.ok(msgs.length >= 1, 'group envelopes sent');
    assert.deepEqual(msgs.map((f) => f[2]), msgs.map(() => 2), 'every group envelope is suite 2');
    assert.ok(envelopes(u, 'sent', KIND.SK).length >= 1, 'a sender key (kind 4) was handed over');
  }

  // Member safety codes: the same on both screens; none for oneself.
  const am = await members(a.page);
  const bm = await members(b.page);
  const codeOnA = am.find((m) => m.alias === 'bob')?.safety ?? '';
  const codeOnB = bm.find((m) => m.alias === 'alice')?.safety ?? '';
  assert.match(codeOnA, SAFETY);
  assert.equal(codeOnA, codeOnB, 'alice and bob see the same member safety code');
  assert.equal(am.find((m) => m.self)?.safety, '', 'no safety code with oneself');

  // Verify: a dialog that shows the code, then a badge on this screen only.
  assert.equal(am.find((m) => m.alias === 'bob')?.verified, false);
  const shown = await verifyMember(a.page, 'bob');
  assert.equal(shown, codeOnA, 'the Verify dialog shows the safety code');
  assert.equal(await a.page.locator('[data-testid=member]', { hasText: 'bob' }).locator('[data-testid=verified-badge]').textContent(), 'verified');
  assert.equal(await a.page.locator('[data-testid=member]', { hasText: 'bob' }).locator('[data-testid=verify-button]').count(), 0);
  assert.equal((await members(b.page)).find((m) => m.alias === 'alice')?.verified, false, 'verifying is one person\'s mark');
  await waitForNotice(a.page, 'You marked bob as verified');

  // A DM: the handshake runs on the first message, then both sides show the
  // same DM safety code by the DM indicator and in the member list.
  await startDM(a.page, 'bob');
  assert.match(await a.page.textContent('[data-testid=dm-safety-line]') ?? '', /set up with your first message/);
  await send(a.page, 'a private word');
  const dm = await waitForMessage(b.page, 'a private word');
  assert.equal(dm.kind, 'dm');
  const dmCodeA = await waitUntil(() => a.page.textContent('[data-testid=dm-safety]'), { message: 'DM safety code on alice\'s screen' });
  assert.match(dmCodeA ?? '', SAFETY);
  assert.notEqual(dmCodeA, codeOnA, 'the DM code is not the member code');
  await startDM(b.page, 'alice');
  assert.equal(await b.page.textContent('[data-testid=dm-safety]'), dmCodeA, 'bob sees the same DM safety code');
  assert.match(await b.page.textContent('#dm-to') ?? '', /safety code/);
  assert.equal((await members(a.page)).find((m) => m.alias === 'bob')?.dmSafety, dmCodeA);
  assert.equal((await members(b.page)).find((m) => m.alias === 'alice')?.dmSafety, dmCodeA);
  await waitForNotice(b.page, `Their safety code is ${dmCodeA}`);
  await send(b.page, 'a private answer');
  const back = await waitForMessage(a.page, 'a private answer');
  assert.equal(back.kind, 'dm');
  await send(a.page, 'second private word');
  await waitForMessage(b.page, 'second private word');

  // On the wire: one offer, one accept, DMs in suite 2 with epoch = sid and seq from 1.
  assert.equal(envelopes(a, 'sent', KIND.DMH).length, 1, 'alice sent one handshake (the offer)');
  assert.equal(envelopes(b, 'sent', KIND.DMH).length, 1, 'bob sent one handshake (the accept)');
  const dms = envelopes(a, 'sent', KIND.DM);
  assert.equal(dms.length, 2);
  const sid = dms[0].readUInt32BE(1 + 28);
  assert.notEqual(sid, 0);
  assert.deepEqual(dms.map((f) => [f[2], f.readUInt32BE(1 + 28), Number(f.readBigUInt64BE(1 + 32))]), [[2, sid, 1], [2, sid, 2]]);
  assert.equal(envelopes(b, 'sent', KIND.DM)[0].readUInt32BE(1 + 28), sid, 'both directions share the session id');

  for (const u of [a, b]) {
    const s = await stats(u.page);
    assert.equal(s.rejected, 0, 'nothing rejected in honest traffic');
    assert.equal(s.missing, 0);
    assert.deepEqual(u.errors, []);
    await u.context.close();
  }
});

test('a tampering relay: replays, altered and forged envelopes are never shown; a dropped one shows as a gap', { timeout: 90000 }, async () => {
  const { a, b, link, tap } = await pair({ tapB: true });
  assert.ok(tap);
  await send(a.page, 'first honest message');
  await waitForMessage(b.page, 'first honest message');
  const isMsg = (/** @type {Buffer} */ f) => f[0] === 0x03 && f[3] === KIND.MSG;
  const captured = tap.received.filter(isMsg).at(-1);
  assert.ok(captured, 'bob received a group envelope');
  const base = (await stats(b.page)).rejected;

  // Replay the same frame: rejected, not shown twice.
  tap.toPage(captured);
  await waitUntil(async () => (await stats(b.page)).rejected === base + 1, { message: 'replay rejected' });
  // Flip one bit of the ciphertext, of the header (its seq), of the signature: all rejected.
  for (const at of [1 + 60, 1 + 39, captured.length - 1]) {
    const bad = Buffer.from(captured);
    bad[at] ^= 0x01;
    tap.toPage(bad);
  }
  await waitUntil(async () => (await stats(b.page)).rejected === base + 4, { message: 'altered envelopes rejected' });
  // A suite-1 envelope (the old scheme, keyed from the link) is rejected too.
  const suite1 = Buffer.from(captured);
  suite1[2] = 1;
  tap.toPage(suite1);
  await waitUntil(async () => (await stats(b.page)).rejected === base + 5, { message: 'suite 1 rejected' });
  assert.equal((await messages(b.page)).filter((m) => m.body === 'first honest message').length, 1, 'shown once');

  // The relay drops one message: the next one arrives with a gap notice.
  tap.dropIn(isMsg);
  await send(a.page, 'this one is dropped');
  await send(a.page, 'after the gap');
  await waitForMessage(b.page, 'after the gap');
  await waitForNotice(b.page, '1 message missing from alice');
  assert.ok(!(await messages(b.page)).some((m) => m.body.includes('dropped')));
  assert.equal((await stats(b.page)).missing, 1);

  // A second hello from bob's session with other keys (a forger holding the
  // link) is rejected with a warning; alice keeps bob's keys.
  const before = (await members(a.page)).find((m) => m.alias === 'bob');
  const welcome = tap.received.find((f) => f[0] === 0x81);
  assert.ok(welcome);
  const bobSession = welcome.readUInt32BE(1);
  const parsed = parseLink(link);
  assert.ok(parsed);
  const keys = await deriveRoom(parsed.secret);
  const forged = await sealHello({
    rid: keys.rid, sender: bobSession, seq: 1000n, roster: keys.roster, identity: await newIdentity(), alias: 'bob',
  });
  tap.toRelay(Buffer.concat([Buffer.of(0x03), Buffer.from(forged)]));
  await waitForNotice(a.page, 'announced different keys');
  const after = (await members(a.page)).find((m) => m.alias === 'bob');
  assert.equal(after?.fingerprint, before?.fingerprint, 'bob keeps his keys on alice\'s screen');
  assert.equal((await members(a.page)).length, 2);

  // Honest traffic still flows both ways.
  await send(b.page, 'bob still here');
  await waitForMessage(a.page, 'bob still here');
  await send(a.page, 'alice too');
  await waitForMessage(b.page, 'alice too');
  assert.equal((await stats(a.page)).rejected, 1, 'alice rejected exactly the forged hello');
  for (const u of [a, b]) {
    assert.deepEqual(u.errors, []);
    await u.context.close();
  }
});

test('a new session under a familiar alias is a new member: not merged, not verified', { timeout: 60000 }, async () => {
  const { a, b, link } = await pair();
  const oldBob = (await members(a.page)).find((m) => m.alias === 'bob');
  await verifyMember(a.page, 'bob');
  await b.page.reload();
  await waitForNotice(a.page, 'bob left');
  await submitJoin(b.page, { alias: 'bob' });
  await b.page.locator('[data-testid=member][data-self=true]').waitFor();
  await waitForNotice(a.page, 'is a new member with new keys');
  const now = await waitUntil(async () => (await members(a.page)).find((m) => m.alias === 'bob'), { message: 'new bob listed' });
  assert.notEqual(now.session, oldBob?.session);
  assert.notEqual(now.fingerprint, oldBob?.fingerprint);
  assert.notEqual(now.safety, oldBob?.safety, 'new keys, new safety code');
  assert.equal(now.verified, false, 'the new session does not inherit "verified"');
  // And it reads what is said from now on.
  await send(a.page, 'welcome back, whoever you are');
  await waitForMessage(b.page, 'welcome back');
  assert.deepEqual((await messages(b.page)).map((m) => m.body), ['welcome back, whoever you are']);
  assert.ok(!(await notices(b.page)).some((n) => n.includes('missing')));
  void link;
  for (const u of [a, b]) await u.context.close();
});

test('crossing DM offers: both keep the offer of the lower member session, and every message arrives', { timeout: 60000 }, async () => {
  const { a, b, tap } = await pair({ tapB: true });
  assert.ok(tap);
  const isOffer = (/** @type {Buffer} */ f) => f[0] === 0x03 && f[3] === KIND.DMH;
  // Bob's offer leaves his page but is held (with all he sends after it)
  // until alice's own offer has reached him: two offers in flight at once.
  tap.hold();
  await startDM(b.page, 'alice');
  await send(b.page, 'bob opens');
  await waitUntil(() => tap.sent.some(isOffer), { message: 'bob sent an offer' });
  await startDM(a.page, 'bob');
  await send(a.page, 'alice opens');
  await waitUntil(() => tap.received.some(isOffer), { message: 'alice\'s offer reached bob' });
  const sidB = tap.sent.find(isOffer)?.readUInt32BE(1 + 28);
  const sidA = envelopes(a, 'sent', KIND.DMH)[0]?.readUInt32BE(1 + 28);
  assert.ok(sidA && sidB && sidA !== sidB);
  const bobSession = (await stats(b.page)).session;
  const aliceSession = (await stats(a.page)).session;
  const aliceWins = aliceSession < bobSession;
  // Bob has judged alice's offer: he accepted it (her session is lower) or kept his.
  await waitUntil(async () => {
    const d = (await stats(b.page)).dms[aliceSession];
    return aliceWins ? d?.state === 'ready' && d.sid === sidA : d?.state === 'offered' && d.sid === sidB;
  }, { message: 'bob resolved the crossing offers' });
  tap.release();

  await waitForMessage(b.page, 'alice opens');
  await waitForMessage(a.page, 'bob opens');
  const win = aliceWins ? sidA : sidB;
  const sa = (await stats(a.page)).dms[bobSession];
  const sb = (await stats(b.page)).dms[aliceSession];
  assert.deepEqual([sa.sid, sa.state], [win, 'ready'], 'alice kept the offer of the lower member session');
  assert.deepEqual([sb.sid, sb.state], [win, 'ready'], 'bob kept the offer of the lower member session');
  assert.equal(sa.safety, sb.safety, 'one session, one safety code');
  assert.equal(await a.page.textContent('[data-testid=dm-safety]'), sa.safety);
  assert.equal(await b.page.textContent('[data-testid=dm-safety]'), sa.safety);
  for (const p of [a.page, b.page]) {
    await waitUntil(async () => (await p.locator('[data-testid=msg-state]').count()) === 0, { message: 'no message left "securing"' });
  }
  await send(a.page, 'and then some');
  await waitForMessage(b.page, 'and then some');
  for (const u of [a, b]) {
    assert.equal((await stats(u.page)).rejected, 0);
    assert.deepEqual(u.errors, []);
    await u.context.close();
  }
});

test('a DM offer carrying ML-KEM to a browser (which announces none) is rejected; a plain one is accepted', { timeout: 60000 }, async () => {
  const a = await newUser(browser);
  const { link } = await createRoom(a.page, srv.url);
  await joinRoom(a.page, testLink(link), { alias: 'alice' });
  const alice = (await stats(a.page)).session;

  // A raw member: the client's own modules over a bare WebSocket, in a page
  // of the same origin, announcing "mlkem768" as a Go client would.
  const raw = await newUser(browser);
  await raw.page.goto(`${srv.url}/`);
  await raw.page.evaluate(async (lnk) => {
    const e = await import('/js/e2ee.js');
    const p = await import('/js/protocol.js');
    const { secret } = /** @type {{secret: Uint8Array}} */ (e.parseLink(lnk));
    const keys = await e.deriveRoom(secret);
    const id = await e.newIdentity();
    const ws = new WebSocket(`ws://${location.host}/ws`);
    ws.binaryType = 'arraybuffer';
    const welcome = await new Promise((resolve) => {
      ws.addEventListener('open', () => ws.send(p.encodeJoin(keys.rid, keys.join)));
      ws.addEventListener('message', (m) => {
        const f = p.decodeServerFrame(m.data);
        if (f.type === 'welcome') resolve(f);
      });
    });
    const session = /** @type {any} */ (welcome).session;
    let ctl = 0n;
    ws.send(p.encodeEnvelopeFrame(await e.sealHello({
      rid: keys.rid, sender: session, seq: ++ctl, roster: keys.roster, identity: id, alias: 'mallory', caps: [e.CAP_MLKEM],
    })));
    /** @param {number} to @param {boolean} withKEM */
    const offer = async (to, withKEM) => {
      const eph = await e.newEphemeral();
      /** @type {Record<string, string>} */
      const body = { t: 'offer', e: e.b64url(eph.pub) };
      if (withKEM) body.kem = e.b64url(e.randomBytes(1184));
      const sid = 1 + Math.floor(Math.random() * 1e9);
      ws.send(p.encodeEnvelopeFrame(await e.sealHandshake({
        rid: keys.rid, sender: session, to, sid, seq: ++ctl, roster: keys.roster, edPriv: id.edPriv, body,
      })));
      return sid;
    };
    /** @type {any} */ (window).__raw = { offer, session };
  }, link);
  await waitForNotice(a.page, 'mallory joined');
  const mallory = await raw.page.evaluate(() => /** @type {any} */ (window).__raw.session);
  const base = (await stats(a.page)).rejected;

  // An offer with an ML-KEM key: the browser announced no ML-KEM, so this
  // is an upgrade no honest client sends. Rejected, no session.
  await raw.page.evaluate((to) => /** @type {any} */ (window).__raw.offer(to, true), alice);
  await waitUntil(async () => (await stats(a.page)).rejected === base + 1, { message: 'the ML-KEM offer is rejected' });
  assert.equal((await stats(a.page)).dms[mallory], undefined, 'no DM session from it');

  // The same without ML-KEM: accepted (so it was the ML-KEM part that failed).
  const sid = await raw.page.evaluate((to) => /** @type {any} */ (window).__raw.offer(to, false), alice);
  await waitUntil(async () => (await stats(a.page)).dms[mallory]?.state === 'ready', { message: 'the plain offer is accepted' });
  assert.equal((await stats(a.page)).dms[mallory].sid, sid);
  assert.equal((await stats(a.page)).rejected, base + 1);
  for (const u of [a, raw]) await u.context.close();
});
