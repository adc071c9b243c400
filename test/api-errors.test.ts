// How the API's error handler answers failures that are not the caller's fault. A database with no connection slot
// left (SQLSTATE 53300, what pg raises as the error's code) must say 503, so that clients retry instead of giving up.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import express from 'express';
import { errorHandler } from '../api/errors';

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

test('an unexpected error is a 500 that says nothing about its cause, and is logged', async () => {
  const r = await answerFor(new TypeError('secret detail'));
  assert.equal(r.status, 500);
  assert.deepEqual(r.body, { error: 'internal error' });
  assert.equal(r.logged.length, 1);
});
