// Proof of work: the web client hashes exactly as the Go relay checks
// (testdata/vectors/pow.json is written by `go test ./internal/pow -update`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';

import { solve, zeroBits } from '../static/js/pow.js';
import { fromB64url, concat, u64be } from '../static/js/bytes.js';

const V = JSON.parse(readFileSync(new URL('../../../testdata/vectors/pow.json', import.meta.url), 'utf8'));

/** @param {string} challenge @param {bigint} nonce */
function work(challenge, nonce) {
  const d = createHash('sha256').update(concat(new TextEncoder().encode('veil/pow'), fromB64url(challenge), u64be(nonce))).digest();
  return zeroBits(new Uint8Array(d));
}

test('zero bits of a digest agree with Go for the shared nonces', () => {
  for (const { nonce, work: want } of V.nonces) {
    assert.equal(work(V.challenge, BigInt(nonce)), want, `nonce ${nonce}`);
  }
});

test('solve finds the same first proof as Go, and it carries the work', async () => {
  const proof = await solve(V.challenge, 12);
  assert.equal(proof, V.proof12);
  const [c, n] = proof.split('.');
  const nonce = new DataView(fromB64url(n).buffer).getBigUint64(0);
  assert.ok(work(c, nonce) >= 12);
});

test('solve refuses malformed challenges and absurd work, and can be cancelled', async () => {
  await assert.rejects(solve('AAAA', 8), /malformed/);
  await assert.rejects(solve(V.challenge, 40), /more than 28/);
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(solve(V.challenge, 28, { signal: ac.signal }), /cancelled/);
});
