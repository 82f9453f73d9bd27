// The browser and the real `veil` command line in one room (issue 4): the
// terminal-side member is `veil listen` (printing JSON lines) and messages
// from the terminal go out with `veil send`. Both sides see each other join,
// talk and DM both ways, see each other leave, and see the purge. A second
// room is created with `veil create` and purged by its owner key from the
// terminal side's point of view.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import readline from 'node:readline';
import { promisify } from 'node:util';
import { startServer, buildServer, cleanBuild, ROOT } from './lib/server.mjs';
import {
  launch, newUser, createRoom, joinRoom, send, startDM, waitForMessage, waitForNotice, waitUntil,
} from './lib/browser.mjs';

const run = promisify(execFile);

/** @type {import('./lib/server.mjs').Server} */
let srv;
/** @type {import('playwright-core').Browser} */
let browser;
/** @type {string} */
let veil;

before(async () => {
  srv = await startServer();
  browser = await launch();
  veil = await buildServer();
});

after(async () => {
  await browser?.close();
  await srv?.stop();
  await cleanBuild();
});

/**
 * Start `veil listen`; events accumulate and can be awaited.
 * @param {string[]} args
 */
function listen(args) {
  const proc = spawn(veil, ['listen', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  /** @type {Record<string, any>[]} */
  const events = [];
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  readline.createInterface({ input: proc.stdout }).on('line', (line) => {
    try { events.push(JSON.parse(line)); } catch { /* not JSON: ignored */ }
  });
  const exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    proc, events, exited,
    /** @param {(e: Record<string, any>) => boolean} pred @param {string} what */
    wait: (pred, what) => waitUntil(async () => events.find(pred), { timeout: 15000, message: `veil listen: ${what} (stderr: ${stderr})` }),
  };
}

/** @param {string[]} args */
async function veilSend(args) {
  const { stdout, stderr } = await run(veil, ['send', ...args], { cwd: ROOT });
  return { stdout, stderr };
}

test('browser and veil listen/send: join, messages, DMs, leave and purge both ways', { timeout: 120000 }, async () => {
  const a = await newUser(browser);
  const { link } = await createRoom(a.page, srv.url, { name: 'terminal and browser' });
  await joinRoom(a.page, link, { alias: 'alice' });

  const ear = listen(['--alias', 'terminal', link]);
  // The browser sees the terminal member join, and the terminal sees alice.
  await waitForNotice(a.page, 'terminal joined');
  await send(a.page, 'hello terminal');
  const got = await ear.wait((e) => e.type === 'message' && e.text === 'hello terminal', 'the browser\'s message');
  assert.equal(got.from, 'alice');

  // From the terminal: a group message and a DM to alice.
  await veilSend(['--alias', 'script', link, 'hello **browser**']);
  const fromCLI = await waitForMessage(a.page, 'hello browser');
  assert.equal(fromCLI.alias, 'script');
  await waitForNotice(a.page, 'script left');
  await veilSend(['--alias', 'whisper', '--dm', 'alice', link, 'only for alice']);
  const dm = await waitForMessage(a.page, 'only for alice');
  assert.equal(dm.kind, 'dm');
  assert.equal(dm.alias, 'whisper');

  // A DM from the browser to the listening terminal member.
  await startDM(a.page, 'terminal');
  await send(a.page, 'for the terminal only');
  await ear.wait((e) => e.type === 'dm' && e.text === 'for the terminal only' && e.from === 'alice', 'the browser\'s DM');

  // The terminal sees the others come and go.
  await ear.wait((e) => e.type === 'join' && e.from === 'script', 'script joined');
  await ear.wait((e) => e.type === 'leave' && e.from === 'script', 'script left');

  // alice purges: the browser's screen is wiped and veil listen prints the
  // purge and exits 4.
  await a.page.click('#purge');
  await a.page.click('#purge-dialog-confirm');
  await a.page.locator('#notice-view[data-kind=purged]').waitFor();
  await ear.wait((e) => e.type === 'purge', 'the purge');
  assert.equal(await ear.exited, 4, 'veil listen exits 4 when the room is purged');
  await a.context.close();
});

test('a terminal member leaving shows in the browser; a room made by veil create works in the browser', { timeout: 120000 }, async () => {
  const { stdout } = await run(veil, ['create', '--server', srv.url, '--name', 'made in a terminal', '--json'], { cwd: ROOT });
  const { link } = JSON.parse(stdout);
  const a = await newUser(browser);
  await joinRoom(a.page, link, { alias: 'alice' });
  assert.equal(await a.page.textContent('#room-name'), 'made in a terminal');
  const ear = listen(['--alias', 'leaver', link]);
  await waitForNotice(a.page, 'leaver joined');
  ear.proc.kill('SIGINT');
  assert.equal(await ear.exited, 0, 'veil listen exits 0 when interrupted');
  await waitForNotice(a.page, 'leaver left');
  await a.context.close();
});
