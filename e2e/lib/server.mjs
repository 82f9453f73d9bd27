// Build and run a real `veil serve` on loopback for the browser tests.

import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository root (two levels above this file). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** @type {Promise<{bin: string, dir: string}>|null} */
let built = null;

/**
 * Build ./cmd/veil once per test process into a temporary directory.
 * @returns {Promise<string>} the binary's path
 */
export async function buildServer() {
  if (!built) {
    built = (async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'veil-e2e-'));
      const bin = path.join(dir, 'veil');
      await run('go', ['build', '-o', bin, './cmd/veil'], { cwd: ROOT, maxBuffer: 16 << 20 });
      return { bin, dir };
    })();
  }
  return (await built).bin;
}

/** Remove the temporary build directory (call from an after hook). */
export async function cleanBuild() {
  if (!built) return;
  const { dir } = await built;
  built = null;
  await rm(dir, { recursive: true, force: true });
}

/**
 * @typedef {object} Server
 * @property {string} url     http://127.0.0.1:PORT (no trailing slash)
 * @property {number} pid
 * @property {() => string} output  everything the server printed so far
 * @property {() => Promise<void>} stop
 */

/**
 * Start `veil serve --addr 127.0.0.1:0 [--max-ttl T]` and wait for its URL.
 * @param {{maxTTL?: string, timeoutMs?: number, args?: string[]}} [o]
 * @returns {Promise<Server>}
 */
export async function startServer(o = {}) {
  const bin = await buildServer();
  const args = ['serve', '--addr', '127.0.0.1:0'];
  if (o.maxTTL) args.push('--max-ttl', o.maxTTL);
  if (o.args) args.push(...o.args);
  const proc = spawn(bin, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => proc.once('exit', resolve));

  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`veil serve printed no URL within ${o.timeoutMs ?? 20000} ms:\n${out}`)),
      o.timeoutMs ?? 20000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /veil: serving on (http:\/\/[^\s/]+)\/?/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`veil serve exited with ${code} before serving:\n${out}`));
    });
  });

  const pid = /** @type {number} */ (proc.pid);
  return {
    url,
    pid,
    output: () => out,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (proc.exitCode === null && proc.signalCode === null) process.kill(pid, 'SIGKILL');
      }, 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
