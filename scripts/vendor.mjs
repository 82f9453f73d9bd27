// Copies the browser modules veil serves from node_modules (pinned by
// package-lock.json) into internal/web/static/vendor/, where go:embed finds
// them. With --check it only verifies that the committed copies are
// byte-identical to the locked packages, and exits 1 if not.
import { readFileSync, writeFileSync } from 'node:fs';

const files = [
  ['node_modules/marked/lib/marked.esm.js', 'marked.esm.js'],
  ['node_modules/dompurify/dist/purify.es.mjs', 'purify.es.mjs'],
  ['node_modules/qrcode-generator/dist/qrcode.mjs', 'qrcode.mjs'],
];
const check = process.argv.includes('--check');
let bad = 0;
for (const [from, name] of files) {
  const to = `internal/web/static/vendor/${name}`;
  const src = readFileSync(from);
  if (check) {
    let cur = null;
    try { cur = readFileSync(to); } catch { /* missing */ }
    if (!cur || !src.equals(cur)) {
      console.error(`${to} differs from ${from}: run node scripts/vendor.mjs`);
      bad++;
    }
  } else {
    writeFileSync(to, src);
    console.log(`${from} -> ${to}`);
  }
}
process.exit(bad ? 1 : 0);
