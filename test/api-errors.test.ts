// How the API's error handler answers failures that are not the caller's fault. A database with no connection slot
// left (SQLSTATE 53300, what pg raises as the error's code) must say 503, so that clients retry instead of giving up.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import express from 'express';
import pg from 'pg';
import { errorHandler } from '../api/errors';
import { startPostgres } from '../server/postgres';

async function answerFor(err: unknown): Promise<{ status: number; body: any; logged: string[] }> {
  const logged: string[] = [];
  const app = express();
  app.get('/x', () => {
    throw err;
  });
  app.use(errorHandler({ error: (m) => logged.push(m) }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/x`);
    return { status: res.status, body: await res.json(), logged };
  } finally {
    await new Promise((r) => server.close(r));
  }
}

test('no connection slot left in PostgreSQL is a 503 and is not logged as a failure of Ferry', async () => {
  const err = Object.assign(new Error('sorry, too many clients already'), { code: '53300', severity: 'FATAL' });
  const r = await answerFor(err);
  assert.equal(r.status, 503);
  assert.equal(r.body.error, 'a backing service is unavailable, try again');
  assert.deepEqual(r.logged, []);
});

test('PostgreSQL itself refusing a connection for lack of slots (a role at its CONNECTION LIMIT) is a 503', async (t) => {
  let adminUrl = process.env.FERRY_TEST_DATABASE_URL;
  if (!adminUrl) {
    const dir = await mkdtemp(path.join(tmpdir(), 'ferry-api-errors-'));
    const server = await startPostgres({ dataDir: dir });
    t.after(async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    });
    adminUrl = server.url;
  }
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const role = `ferry_limited_${crypto.randomBytes(4).toString('hex')}`;
  const password = crypto.randomBytes(12).toString('hex');
  await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}' CONNECTION LIMIT 1`);
  const held: pg.Client[] = [];
  t.after(async () => {
    for (const c of held) await c.end().catch(() => undefined);
    await admin.query(`DROP ROLE IF EXISTS ${role}`);
    await admin.end();
  });
  const url = new URL(adminUrl);
  url.username = role;
  url.password = password;
  const first = new pg.Client({ connectionString: url.toString() });
  await first.connect();
  held.push(first);
  const second = new pg.Client({ connectionString: url.toString() });
  const refused = await second.connect().then(() => (held.push(second), null), (e: unknown) => e);
  assert.ok(refused, 'the second connection of a role limited to one is refused');
  assert.equal((refused as { code?: string }).code, '53300', String(refused));
  const r = await answerFor(refused);
  assert.equal(r.status, 503);
  assert.deepEqual(r.logged, []);
});

test('an unexpected error is a 500 that says nothing about its cause, and is logged', async () => {
  const r = await answerFor(new TypeError('secret detail'));
  assert.equal(r.status, 500);
  assert.deepEqual(r.body, { error: 'internal error' });
  assert.equal(r.logged.length, 1);
});
