// The Go test member (internal/vtest/vbot): built once per test process,
// spawned per test, driven by JSON lines on stdin, read as JSON lines from
// stdout. Interoperability of the browser client with the Go client.

import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { promisify } from 'node:util';
import { ROOT } from './server.mjs';

const run = promisify(execFile);

/** @type {Promise<{bin: string, dir: string}>|null} */
let built = null;

/** @returns {Promise<string>} the vbot binary */
async function buildBot() {
  if (!built) {
    built = (async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'veil-vbot-'));
      const bin = path.join(dir, 'vbot');
      await run('go', ['build', '-o', bin, './internal/vtest/vbot'], { cwd: ROOT, maxBuffer: 16 << 20 });
      return { bin, dir };
    })();
  }
  return (await built).bin;
}

/** Remove the bot's build directory (call from an after hook). */
export async function cleanBot() {
  if (!built) return;
  const { dir } = await built;
  built = null;
  await rm(dir, { recursive: true, force: true });
}

/**
 * @typedef {object} Bot
 * @property {Record<string, any>[]} events   every event printed so far
 * @property {(cmd: object) => void} send      one command line
 * @property {(pred: (e: Record<string, any>) => boolean, what: string, timeout?: number) => Promise<Record<string, any>>} wait
 *           the first event (already seen or still to come) matching pred
 * @property {() => string} stderr
 * @property {() => Promise<void>} stop       quit, then kill if it lingers
 */

/**
 * Start a bot that joins link as alias.
 * @param {string} link
 * @param {{alias: string, password?: string, noMLKEM?: boolean}} o
 * @returns {Promise<Bot>}
 */
export async function startBot(link, o) {
  const bin = await buildBot();
  const args = ['--alias', o.alias];
  if (o.noMLKEM) args.push('--no-mlkem');
  args.push(link);
  const env = { ...process.env };
  if (o.password) env.VEIL_PASSWORD = o.password;
  else delete env.VEIL_PASSWORD;
  const proc = spawn(bin, args, { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  /** @type {Record<string, any>[]} */
  const events = [];
  /** @type {(() => void)[]} */
  let waiters = [];
  readline.createInterface({ input: proc.stdout }).on('line', (line) => {
    try {
      events.push(JSON.parse(line));
    } catch {
      events.push({ event: 'unparsed', text: line });
    }
    const w = waiters;
    waiters = [];
    w.forEach((f) => f());
  });
  return {
    events,
    send(cmd) {
      proc.stdin.write(`${JSON.stringify(cmd)}\n`);
    },
    async wait(pred, what, timeout = 15000) {
      const deadline = Date.now() + timeout;
      for (;;) {
        const hit = events.find(pred);
        if (hit) return hit;
        if (proc.exitCode !== null) throw new Error(`vbot exited (${proc.exitCode}) waiting for ${what}: ${err}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`vbot: no ${what} within ${timeout} ms; events: ${JSON.stringify(events)}; stderr: ${err}`);
        await new Promise((resolve) => {
          const t = setTimeout(resolve, Math.min(left, 250));
          waiters.push(() => { clearTimeout(t); resolve(undefined); });
        });
      }
    },
    stderr: () => err,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      try {
        proc.stdin.write(`${JSON.stringify({ quit: true })}\n`);
        proc.stdin.end();
      } catch {
        // already gone
      }
      const timer = setTimeout(() => {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      }, 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
