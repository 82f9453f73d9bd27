// Cluster mode in the browser: two `veil serve --nats` nodes on one real
// nats-server (JetStream), a balancer in front of them. Members on different
// nodes share a room; when the node most of them are on dies (SIGKILL: the
// sockets just drop) or shuts down (SIGINT: close 1012), their pages resume
// the same sessions through the other node without a reload, and a member
// who cannot follow (joined on the dead node's own address) is swept out
// once the node's grace has run out.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, buildServer, cleanBuild } from './lib/server.mjs';
import { startNATS, buildNATS, cleanNATSBuild } from './lib/nats.mjs';
import { startBalancer } from './lib/balancer.mjs';
import {
  launch, newUser, createRoom, joinRoom, submitJoin, send, messages, members, notices, waitForMessage, waitUntil,
} from './lib/browser.mjs';

const SHOTS = process.env.VEIL_SHOTS || path.join(tmpdir(), 'veil-shots');

/** @type {import('playwright-core').Browser} */
let browser;
// How to stop every process and balancer this file started, in start order.
/** @type {(() => Promise<void>)[]} */
const stops = [];

before(async () => {
  browser = await launch();
  await Promise.all([buildServer(), buildNATS()]);
});

after(async () => {
  // The browser first, so no page keeps reconnecting while the nodes stop.
  await browser?.close();
  // Every one is stopped even if one fails; the first failure is reported.
  const failed = [];
  for (const stop of stops.reverse()) await stop().catch((err) => failed.push(err));
  await cleanBuild();
  await cleanNATSBuild();
  if (failed.length > 0) throw failed[0];
});

/**
 * A nats-server, nodes A and B on it, and a balancer that prefers A.
 */
async function cluster() {
  const nats = await startNATS();
  stops.push(nats.stop);
  const node = async () => {
    const s = await startServer({ args: ['--nats', nats.url, '--nats-replicas', '1'] });
    stops.push(s.stop);
    return s;
  };
  const [a, b] = await Promise.all([node(), node()]);
  const lb = await startBalancer([a.url, b.url]);
  stops.push(lb.close);
  return { nats, a, b, lb };
}

/**
 * A fresh person whose page records the close code of every WebSocket it
 * opens (Playwright reports a socket's close but not its code), and every
 * connection status it shows (a poll could miss a short one).
 */
async function person() {
  const u = await newUser(browser);
  await u.context.addInitScript(() => {
    /** @type {string[]} */
    const statuses = [];
    Object.defineProperty(window, '__connStatuses', { value: statuses });
    new MutationObserver(() => {
      const t = document.getElementById('conn-status')?.textContent;
      if (t !== undefined && t !== null && statuses[statuses.length - 1] !== t) statuses.push(t);
    }).observe(document, { subtree: true, childList: true, characterData: true });
    /** @type {number[]} */
    const codes = [];
    Object.defineProperty(window, '__closeCodes', { value: codes });
    const Native = window.WebSocket;
    window.WebSocket = class extends Native {
      /**
       * @param {string | URL} url
       * @param {string | string[]} [protocols]
       */
      constructor(url, protocols) {
        super(url, protocols);
        this.addEventListener('close', (e) => codes.push(e.code));
      }
    };
  });
  return u;
}

/**
 * @param {import('./lib/browser.mjs').User} u
 * @returns {Promise<number[]>}
 */
function closeCodes(u) {
  return u.page.evaluate(() => /** @type {any} */ (window).__closeCodes.slice());
}

/**
 * @param {import('./lib/browser.mjs').User} u
 * @returns {Promise<string[]>} the connection statuses shown, in order (empty: connected)
 */
function connStatuses(u) {
  return u.page.evaluate(() => /** @type {any} */ (window).__connStatuses.slice());
}

/**
 * Alice (who creates the room) and Bob through the balancer, so on node A;
 * Carol on node B's own address; Dave on node A's own address, so he has no
 * way to another node when A goes.
 * @param {Awaited<ReturnType<typeof cluster>>} c
 */
async function room(c) {
  const [alice, bob, carol, dave] = await Promise.all([person(), person(), person(), person()]);
  const { link } = await createRoom(alice.page, c.lb.url, { name: 'two nodes' });
  await alice.page.click('#enter-room');
  await submitJoin(alice.page, { alias: 'alice' });
  await alice.page.locator('#room-view').waitFor();
  const fragment = new URL(link).hash;
  await joinRoom(bob.page, link, { alias: 'bob' });
  await joinRoom(carol.page, `${c.b.url}/${fragment}`, { alias: 'carol' });
  await joinRoom(dave.page, `${c.a.url}/${fragment}`, { alias: 'dave' });
  for (const u of [alice, bob, carol, dave]) {
    await waitUntil(async () => (await members(u.page)).length === 4, { message: 'four members listed' });
  }
  assert.equal(c.lb.landed[1], 0, 'while A runs, the balancer sends nobody to B');
  return { alice, bob, carol, dave };
}

/**
 * Each of senders says `${tag} from ALIAS`; every one of them sees all of it.
 * @param {[string, import('./lib/browser.mjs').User][]} senders alias and person
 * @param {string} tag
 * @returns {Promise<string[]>} the texts sent
 */
async function round(senders, tag) {
  const texts = [];
  for (const [alias, u] of senders) {
    const text = `${tag} from ${alias}`;
    await send(u.page, text);
    for (const [, other] of senders) await waitForMessage(other.page, text, 15000);
    texts.push(text);
  }
  return texts;
}

/**
 * Every text is on each page exactly once, and no message shows twice.
 * @param {import('./lib/browser.mjs').User[]} users
 * @param {string[]} texts
 */
async function eachOnce(users, texts) {
  for (const u of users) {
    const bodies = (await messages(u.page)).map((m) => m.body);
    for (const t of texts) assert.equal(bodies.filter((b) => b === t).length, 1, `${JSON.stringify(t)} once in ${bodies}`);
    assert.equal(new Set(bodies).size, bodies.length, `no message twice: ${bodies}`);
  }
}

/**
 * Until pid has exited (node reaps its children, so then it is gone).
 * @param {number} pid
 */
function gone(pid) {
  return waitUntil(() => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  }, { message: `process ${pid} gone` });
}

/**
 * Node A goes (how: kill), and the members on it through the balancer resume
 * on B: their pages show reconnecting and come back with the same sessions,
 * Dave (on A's own address) is swept out after the grace, and nobody else
 * leaves, joins or sees a message twice.
 * @param {(c: Awaited<ReturnType<typeof cluster>>) => Promise<void>} kill
 * @param {number} code the close code the pages on A see first
 * @param {string} [shot] a screenshot of Alice's page after the failover, to this file
 */
async function failover(kill, code, shot) {
  const c = await cluster();
  const { alice, bob, carol, dave } = await room(c);
  const moving = [alice, bob];
  const staying = /** @type {[string, import('./lib/browser.mjs').User][]} */ ([['alice', alice], ['bob', bob], ['carol', carol]]);
  const early = await round(staying, 'before');
  const sessions = (await members(carol.page)).filter((m) => m.alias !== 'dave').map((m) => `${m.alias} ${m.session}`).sort();
  const noticesBefore = await Promise.all(staying.map(([, u]) => notices(u.page)));

  await kill(c);

  for (const u of moving) {
    await waitUntil(() => u.sockets.length === 2 && u.sockets[1].sent.length > 0 && u.sockets[1].received.some((f) => f[0] === 0x81),
      { timeout: 15000, message: 'a second socket that got WELCOME' });
    assert.equal(u.sockets[1].sent[0][0], 0x02, 'the second socket starts with RESUME');
    await waitUntil(async () => (await u.page.textContent('#conn-status')) === '', { message: 'reconnected' });
    assert.deepEqual(await connStatuses(u), ['', 'Connection lost, reconnecting…', ''], 'reconnecting shown, then nothing');
    assert.equal((await closeCodes(u))[0], code, 'the first socket\'s close code');
    assert.equal(u.page.url().startsWith(c.lb.url), true, 'the same address');
  }
  await waitUntil(async () => (await closeCodes(dave)).length > 0, { message: 'dave\'s socket closed' });
  assert.equal((await closeCodes(dave))[0], code, 'dave\'s close code');
  assert.ok(c.lb.landed[1] >= 2, `both resumed through B (${c.lb.landed})`);
  const texts = [...early, ...await round(staying, 'after')];

  // Dave's page cannot reach another node; the cluster ends his session
  // once A counts as dead and the grace has run out. By then a session of
  // Alice's or Bob's not taken over would have ended too. Nobody else
  // joined or left on any screen, and the screens were kept.
  const daveLeft = 'dave lost the connection and left';
  for (const [i, [alias, u]] of staying.entries()) {
    await waitUntil(async () => (await notices(u.page)).includes(daveLeft),
      { timeout: 35000, interval: 250, message: `${alias} sees dave go` });
    const expect = u === carol ? [daveLeft] : ['Reconnected.', daveLeft];
    assert.deepEqual(await notices(u.page), [...noticesBefore[i], ...expect], `${alias}'s notices`);
  }
  assert.deepEqual((await members(carol.page)).map((m) => `${m.alias} ${m.session}`).sort(), sessions, 'the same sessions');

  texts.push(...await round(staying, 'later'));
  await eachOnce(moving.concat(carol), texts);
  for (const u of [alice, bob, carol]) assert.deepEqual(u.errors.filter((e) => e.startsWith('pageerror')), []);
  if (shot) {
    await mkdir(path.dirname(shot), { recursive: true });
    await alice.page.screenshot({ path: shot });
  }
  for (const u of [alice, bob, carol, dave]) await u.context.close();
}

// The two run side by side: each has its own nats-server, nodes, balancer
// and people, and most of each is waiting out the dead node's grace.
describe('a node of two goes', { concurrency: 2 }, () => {
  test('a node killed: members on it resume on the other node with the same sessions', { timeout: 90000 }, async () => {
    await failover(async (c) => {
      process.kill(c.a.pid, 'SIGKILL');
      await gone(c.a.pid);
    }, 1006, path.join(SHOTS, 'cluster-killed.png'));
  });

  test('a node shut down (Ctrl-C): members on it are told 1012 and resume on the other node', { timeout: 90000 }, async () => {
    await failover(async (c) => {
      process.kill(c.a.pid, 'SIGINT');
      await waitUntil(() => c.a.output().includes('veil: stopped'), { timeout: 15000, message: 'node A stopped' });
      await gone(c.a.pid);
    }, 1012, path.join(SHOTS, 'cluster-shutdown.png'));
  });
});
