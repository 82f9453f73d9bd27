// A real nats-server with JetStream on loopback, for the cluster tests: built
// once per test process from the module cache (it is in go.mod, so this
// works offline), run with its store in a temporary directory, and stopped
// by its PID.

import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './server.mjs';
import { waitUntil } from './browser.mjs';

const run = promisify(execFile);

/** @type {Promise<{bin: string, dir: string}>|null} */
let built = null;

/**
 * Build github.com/nats-io/nats-server/v2 once per test process into a
 * temporary directory.
 * @returns {Promise<string>} the binary's path
 */
export async function buildNATS() {
  if (!built) {
    built = (async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'veil-e2e-nats-'));
      const bin = path.join(dir, 'nats-server');
      await run('go', ['build', '-o', bin, 'github.com/nats-io/nats-server/v2'], { cwd: ROOT, maxBuffer: 16 << 20 });
      return { bin, dir };
    })();
  }
  return (await built).bin;
}

/** Remove the temporary build directory (call from an after hook). */
export async function cleanNATSBuild() {
  if (!built) return;
  const { dir } = await built;
  built = null;
  await rm(dir, { recursive: true, force: true });
}

/**
 * @typedef {object} NATS
 * @property {string} url    nats://127.0.0.1:PORT
 * @property {number} pid
 * @property {() => string} output  everything nats-server logged so far
 * @property {() => Promise<void>} stop  stops it (by PID) and removes its store; idempotent
 */

/**
 * Start `nats-server -a 127.0.0.1 -p -1 -js -sd STORE` and wait until it
 * accepts connections. Port -1 lets the server pick a free port, which it
 * logs ("Listening for client connections on 127.0.0.1:PORT"), so no other
 * process can take the port between choosing and binding it.
 * @param {{timeoutMs?: number}} [o]
 * @returns {Promise<NATS>}
 */
export async function startNATS(o = {}) {
  const bin = await buildNATS();
  const store = await mkdtemp(path.join(tmpdir(), 'veil-e2e-js-'));
  const proc = spawn(bin, ['-a', '127.0.0.1', '-p', '-1', '-js', '-sd', store], { stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = /** @type {number} */ (proc.pid);
  let out = '';
  for (const s of [proc.stdout, proc.stderr]) {
    s.setEncoding('utf8');
    s.on('data', (d) => { out += d; });
  }
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  const running = () => proc.exitCode === null && proc.signalCode === null;

  let stopped = false;
  async function stop() {
    if (stopped) return;
    stopped = true;
    if (running()) {
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => { if (running()) process.kill(pid, 'SIGKILL'); }, 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(store, { recursive: true, force: true });
  }

  try {
    const timeout = o.timeoutMs ?? 20000;
    const port = await waitUntil(() => {
      if (!running()) throw new Error(`nats-server exited:\n${out}`);
      return /Listening for client connections on [\d.]+:(\d+)/.exec(out)?.[1];
    }, { timeout, interval: 50, message: 'nats-server listening' });
    await waitUntil(() => accepts(Number(port)), { timeout, interval: 50, message: `nats-server accepting on port ${port}` });
    return { url: `nats://127.0.0.1:${port}`, pid, output: () => out, stop };
  } catch (err) {
    await stop();
    throw new Error(`${err instanceof Error ? err.message : err}\n${out}`);
  }
}

/**
 * Whether a TCP connection to 127.0.0.1:port is accepted.
 * @param {number} port
 * @returns {Promise<boolean>}
 */
function accepts(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}
