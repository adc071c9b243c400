import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { commitShaOfRevision, parseFluxRevision, type FluxRevision } from '../src/flux/revision';

const SHA = '2a7995ebfc7670927618aefc34db3e6b39300ca1';
const DIGEST = 'd4228aab0d8401232e3d8581d571464cdcb4fdf1d4228aab0d8401232e3d8581';

// One row per line of the reference's revision table, plus the edges around it.
const ROWS: Array<{ label: string; rev: string; parsed: FluxRevision; sha: string | null }> = [
  { label: 'branch', rev: `main@sha1:${SHA}`, parsed: { pointer: 'main', algo: 'sha1', hash: SHA }, sha: SHA },
  { label: 'legacy branch', rev: `main/${SHA}`, parsed: { pointer: 'main', hash: SHA }, sha: SHA },
  {
    label: 'branch with slashes',
    rev: `feature/x@sha1:${SHA}`,
    parsed: { pointer: 'feature/x', algo: 'sha1', hash: SHA },
    sha: SHA,
  },
  { label: 'legacy branch with slashes', rev: `feature/x/${SHA}`, parsed: { pointer: 'feature/x', hash: SHA }, sha: SHA },
  { label: 'tag', rev: `v1.0.0@sha1:${SHA}`, parsed: { pointer: 'v1.0.0', algo: 'sha1', hash: SHA }, sha: SHA },
  {
    label: 'absolute ref name',
    rev: `refs/pull/1/head@sha1:${SHA}`,
    parsed: { pointer: 'refs/pull/1/head', algo: 'sha1', hash: SHA },
    sha: SHA,
  },
  { label: 'exact commit', rev: `sha1:${SHA}`, parsed: { algo: 'sha1', hash: SHA }, sha: SHA },
  { label: 'legacy exact commit', rev: `HEAD/${SHA}`, parsed: { hash: SHA }, sha: SHA },
  {
    label: 'OCI tag',
    rev: `latest@sha256:${DIGEST}`,
    parsed: { pointer: 'latest', algo: 'sha256', hash: DIGEST },
    sha: null,
  },
  { label: 'OCI/Bucket digest', rev: `sha256:${DIGEST}`, parsed: { algo: 'sha256', hash: DIGEST }, sha: null },
  // edges
  { label: 'bare hash', rev: SHA, parsed: { hash: SHA }, sha: SHA },
  {
    label: 'slash branch with a date',
    rev: `release/2026-10@sha1:${SHA}`,
    parsed: { pointer: 'release/2026-10', algo: 'sha1', hash: SHA },
    sha: SHA,
  },
  {
    label: 'upper-case hash is normalised',
    rev: `main@sha1:${SHA.toUpperCase()}`,
    parsed: { pointer: 'main', algo: 'sha1', hash: SHA.toUpperCase() },
    sha: SHA,
  },
  { label: 'abbreviated hash', rev: 'main@sha1:2a7995e', parsed: { pointer: 'main', algo: 'sha1', hash: '2a7995e' }, sha: null },
  { label: 'empty hash', rev: 'main@sha1:', parsed: { pointer: 'main', algo: 'sha1', hash: '' }, sha: null },
  {
    label: '40 hex under sha256 is not a commit',
    rev: `sha256:${SHA}`,
    parsed: { algo: 'sha256', hash: SHA },
    sha: null,
  },
  { label: 'branch with an @', rev: `user@host/x@sha1:${SHA}`, parsed: { pointer: 'user@host/x', algo: 'sha1', hash: SHA }, sha: SHA },
  { label: '41 hex digits', rev: `main/${SHA}0`, parsed: { pointer: 'main', hash: `${SHA}0` }, sha: null },
  { label: 'non-hex 40 chars', rev: `main/${'g'.repeat(40)}`, parsed: { pointer: 'main', hash: 'g'.repeat(40) }, sha: null },
  { label: 'empty string', rev: '', parsed: { hash: '' }, sha: null },
];

describe('parseFluxRevision', () => {
  for (const row of ROWS) {
    it(row.label, () => assert.deepEqual(parseFluxRevision(row.rev), row.parsed));
  }
  it('splits on the last slash, not the first (Gimlet bug)', () => {
    assert.equal(parseFluxRevision(`a/b/c/${SHA}`).pointer, 'a/b/c');
  });
});

describe('commitShaOfRevision', () => {
  for (const row of ROWS) {
    it(`${row.label} → ${row.sha ?? 'null'}`, () => assert.equal(commitShaOfRevision(row.rev), row.sha));
  }
  it('returns null for non-strings at runtime', () => {
    assert.equal(commitShaOfRevision(undefined as unknown as string), null);
  });
});
