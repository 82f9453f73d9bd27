// Files for the attachment tests (docs/protocol.md section 8): real PNGs
// made here, hashes, what a page shows of its files, and the bytes behind a
// download link (read through the browser's own download, so the page keeps
// its real Content-Security-Policy, under which fetch() of a blob: URL is
// refused).

import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { deflateSync, crc32 } from 'node:zlib';
import { waitUntil } from './browser.mjs';

/** @param {Uint8Array|Buffer} b @returns {string} lowercase hex SHA-256 */
export function sha256(b) {
  return createHash('sha256').update(b).digest('hex');
}

/**
 * @param {string} type
 * @param {Buffer} data
 */
function pngChunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/**
 * A real RGB PNG of w x h pixels: a colour gradient with a random tint, so
 * every picture made is different.
 * @param {number} w
 * @param {number} h
 * @returns {Buffer}
 */
export function makePNG(w, h) {
  const tint = randomBytes(3);
  const rows = [];
  for (let y = 0; y < h; y++) {
    const row = Buffer.alloc(1 + 3 * w);
    for (let x = 0; x < w; x++) {
      row[1 + 3 * x] = (x * 255 / Math.max(1, w - 1)) ^ tint[0];
      row[2 + 3 * x] = (y * 255 / Math.max(1, h - 1)) ^ tint[1];
      row[3 + 3 * x] = ((x + y) * 4) ^ tint[2];
    }
    rows.push(row);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.concat(rows))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * Write n random bytes to path; resolves to their SHA-256.
 * @param {string} path
 * @param {number} n
 * @returns {Promise<string>}
 */
export async function randomFile(path, n) {
  const h = createHash('sha256');
  const parts = [];
  for (let left = n; left > 0; left -= 1 << 20) {
    const b = randomBytes(Math.min(left, 1 << 20));
    h.update(b);
    parts.push(b);
  }
  await writeFile(path, Buffer.concat(parts));
  return h.digest('hex');
}

/**
 * The files shown in a page's messages, newest last.
 * @param {import('playwright-core').Page} page
 * @returns {Promise<{id: string, self: boolean, state: string, voice: boolean, name: string, size: string, error: string,
 *   image: string, audio: string, video: string, download: string, downloadName: string, progress: boolean}[]>}
 */
export function files(page) {
  return page.$$eval('#messages > li[data-testid=message]', (lis) => lis.filter((li) => li.querySelector('[data-testid=file]'))
    .map((li) => {
      const f = /** @type {HTMLElement} */ (li.querySelector('[data-testid=file]'));
      const q = (/** @type {string} */ s) => f.querySelector(`[data-testid=${s}]`);
      return {
        id: li.getAttribute('data-id') ?? '',
        self: li.getAttribute('data-self') === 'true',
        state: f.getAttribute('data-state') ?? '',
        voice: f.getAttribute('data-voice') === 'true',
        name: q('file-name')?.textContent ?? '',
        size: q('file-size')?.textContent ?? '',
        error: q('file-error')?.textContent ?? '',
        image: q('file-image')?.getAttribute('src') ?? '',
        audio: q('file-audio')?.getAttribute('src') ?? '',
        video: q('file-video')?.getAttribute('src') ?? '',
        download: q('file-download')?.getAttribute('href') ?? '',
        downloadName: q('file-download')?.getAttribute('download') ?? '',
        progress: !!q('file-progress'),
      };
    }));
}

/**
 * Wait for a file whose name contains name (or any file, with '') in one of
 * states, and return it.
 * @param {import('playwright-core').Page} page
 * @param {{name?: string, self?: boolean, states?: string[], timeout?: number}} o
 */
export async function waitForFile(page, o) {
  const states = o.states ?? ['done'];
  return waitUntil(async () => (await files(page)).find((f) => (o.name === undefined || f.name.includes(o.name))
    && (o.self === undefined || f.self === o.self) && states.includes(f.state)),
  { timeout: o.timeout ?? 20000, interval: 50, message: `a file ${JSON.stringify(o.name ?? '')} in state ${states.join('/')}` });
}

/**
 * The bytes behind a message's download link, through a real download.
 * @param {import('playwright-core').Page} page
 * @param {string} id the message id
 * @returns {Promise<{bytes: Buffer, name: string}>}
 */
export async function downloadOf(page, id) {
  const link = page.locator(`#messages > li[data-id="${id}"] [data-testid=file-download]`);
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 30000 }), link.click()]);
  const path = await dl.path();
  if (!path) throw new Error(`download failed: ${await dl.failure()}`);
  return { bytes: await readFile(path), name: dl.suggestedFilename() };
}
