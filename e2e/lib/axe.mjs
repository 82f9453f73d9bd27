// axe-core in the page. The source is evaluated through the DevTools
// protocol, which the page's CSP does not govern, so the page keeps its real
// CSP (no bypassCSP) while being checked.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ROOT } from './server.mjs';

/** @type {string|null} */
let source = null;

/**
 * Run axe (WCAG 2.0 A and AA, 2.1 AA) on the page; returns the violations
 * as readable lines (empty when clean).
 * @param {import('playwright-core').Page} page
 * @returns {Promise<string[]>}
 */
export async function axeViolations(page) {
  source ??= await readFile(path.join(ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  const loaded = await page.evaluate(() => typeof (/** @type {any} */ (window).axe) === 'object');
  if (!loaded) await page.evaluate(source);
  return page.evaluate(async () => {
    const axe = /** @type {any} */ (window).axe;
    const res = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa'] } });
    return res.violations.flatMap((/** @type {any} */ v) => v.nodes.map((/** @type {any} */ n) =>
      `${v.id} (${v.impact}): ${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ')}`));
  });
}
