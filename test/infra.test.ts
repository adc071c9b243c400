// Exercises the real embedded Postgres and Temporal dev server (no mocks): these
// modules are all process management, so a fake would test nothing of value.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client as PgClient } from 'pg';
import { Client, Connection } from '@temporalio/client';
import { createTestDatabase, startPostgres, type PostgresHandle } from '../server/postgres';
import {
  FERRY_SEARCH_ATTRIBUTE_NAMES,
  startTemporal,
  startViaTestEnvironment,
  type TemporalServerHandle,
} from '../server/temporal-server';
import { getFreePort, resolveHelmBinary, resolveTemporalExecutable, terminateChild } from '../server/tools';

const KEYWORD = 2; // temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD

// Fallback cleanup for whatever a failing test left behind; tests clean up explicitly too.
const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ferry-${prefix}-`));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function query<T = Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new PgClient({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

function postmasterPid(clusterDir: string): number {
  return Number.parseInt(fs.readFileSync(path.join(clusterDir, 'postmaster.pid'), 'utf8').split('\n')[0]!, 10);
}

async function waitForDeath(pid: number): Promise<void> {
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('embedded postgres', () => {
  let dataDir: string;
  const handles: PostgresHandle[] = [];
  const start = async () => {
    const handle = await startPostgres({ dataDir });
    handles.push(handle);
    return handle;
  };
  before(() => {
    dataDir = tempDir('pg');
  });
  after(() => Promise.all(handles.map((h) => h.stop())));

  test('starts, answers, and keeps data across a restart', async () => {
    let pg = await start();
    assert.equal(pg.embedded, true);
    assert.match(pg.url, /^postgres:\/\/ferry:[^@]+@127\.0\.0\.1:\d+\/ferry$/);
    assert.deepEqual(await query(pg.url, 'select 1 as one'), [{ one: 1 }]);
    await query(pg.url, 'create table kept (v text)');
    await query(pg.url, "insert into kept values ('still here')");
    assert.equal(fs.statSync(path.join(dataDir, 'postgres-password')).mode & 0o777, 0o600);
    await pg.stop();
    await assert.rejects(query(pg.url, 'select 1'), 'server is really down after stop()');

    pg = await start();
    assert.deepEqual(await query(pg.url, 'select v from kept'), [{ v: 'still here' }]);
    await pg.stop();
  });

  test('refuses to start a second server on a cluster that is running', async () => {
    const pg = await start();
    await assert.rejects(startPostgres({ dataDir }), /still running/);
    assert.deepEqual(await query(pg.url, 'select 1 as one'), [{ one: 1 }], 'the running server is untouched');
    await pg.stop();
  });

  test('starts again after a SIGKILLed run, also when its pid was reused meanwhile', async () => {
    const clusterDir = path.join(dataDir, 'postgres');
    const crash = async () => {
      const crashed = await start();
      const pid = postmasterPid(clusterDir);
      process.kill(pid, 'SIGKILL');
      await waitForDeath(pid);
      await crashed.stop(); // must not hang on an already-dead server
    };

    await crash(); // postmaster.pid now names a dead pid
    let pg = await start();
    assert.deepEqual(await query(pg.url, 'select v from kept'), [{ v: 'still here' }]);
    await pg.stop();

    // Now an unrelated process owned by the cluster's OS user holds the old pid. Postgres
    // alone would refuse to start ("lock file already exists").
    await crash();
    const pgUid = process.getuid?.() === 0 ? Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })) : undefined;
    const squatter = spawn('sleep', ['60'], { uid: pgUid, stdio: 'ignore' });
    cleanups.push(() => terminateChild(squatter, 'SIGKILL', 0));
    const lock = fs.readFileSync(path.join(clusterDir, 'postmaster.pid'), 'utf8').split('\n');
    lock[0] = String(squatter.pid);
    fs.writeFileSync(path.join(clusterDir, 'postmaster.pid'), lock.join('\n'));

    pg = await start();
    assert.deepEqual(await query(pg.url, 'select v from kept'), [{ v: 'still here' }]);
    await pg.stop();
    await terminateChild(squatter, 'SIGKILL', 0);
  });

  test('databaseUrl mode and createTestDatabase', async () => {
    const embedded = await start();
    const external = await startPostgres({ databaseUrl: embedded.url, dataDir: '/nonexistent' });
    assert.equal(external.embedded, false);
    assert.equal(external.url, embedded.url);
    await external.stop(); // no-op: must leave the server running

    const scratch = await createTestDatabase(embedded.url);
    const name = new URL(scratch.url).pathname.slice(1);
    assert.match(name, /^ferry_test_/);
    const held = new PgClient({ connectionString: scratch.url });
    await held.connect(); // a leaked connection must not block the drop
    held.on('error', () => {});
    await scratch.drop();
    const rows = await query(embedded.url, 'select 1 from pg_database where datname = $1', [name]);
    assert.equal(rows.length, 0);

    await assert.rejects(
      startPostgres({ databaseUrl: embedded.url.replace(/:[^:@]+@/, ':wrong@'), dataDir: '/nonexistent' }),
      (err: Error) => /cannot connect/.test(err.message) && !err.message.includes('wrong'),
    );
    await embedded.stop();
  });
});

describe('temporal dev server', () => {
  const handles: TemporalServerHandle[] = [];
  const track = <T extends TemporalServerHandle>(h: T) => (handles.push(h), h);
  after(() => Promise.all(handles.map((h) => h.stop())));

  async function ferryAttributes(address: string, namespace: string): Promise<Record<string, number>> {
    const connection = await Connection.connect({ address });
    try {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
      return Object.fromEntries(
        FERRY_SEARCH_ATTRIBUTE_NAMES.map((n) => [n, customAttributes?.[n] as number]),
      );
    } finally {
      await connection.close();
    }
  }
  const allKeyword = Object.fromEntries(FERRY_SEARCH_ATTRIBUTE_NAMES.map((n) => [n, KEYWORD]));

  test('persists workflows and (re)registers search attributes on an existing db', async () => {
    const dataDir = tempDir('temporal');
    const executable = resolveTemporalExecutable();
    assert.equal(executable.type, 'existing-path', 'run `npm run tools` first');
    if (executable.type !== 'existing-path') return;

    // A db created without Ferry's attributes: start-dev ignores --search-attribute for
    // an existing file, so startTemporal has to add them through the operator API.
    const port = await getFreePort();
    const bare = spawn(executable.path, ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port),
      '--db-filename', path.join(dataDir, 'temporal.db'), '--log-level', 'error'], { stdio: 'ignore' });
    cleanups.push(() => terminateChild(bare, 'SIGKILL', 0));
    for (let i = 0; ; i++) {
      try {
        await (await Connection.connect({ address: `127.0.0.1:${port}`, connectTimeout: 1000 })).close();
        break;
      } catch (err) {
        if (i > 100) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    await terminateChild(bare, 'SIGTERM', 10_000);

    let server = track(await startTemporal({ dataDir }));
    assert.match(server.address, /^127\.0\.0\.1:\d+$/);
    assert.equal(server.uiUrl, undefined);
    assert.deepEqual(await ferryAttributes(server.address, 'default'), allKeyword);
    await assert.rejects(startTemporal({ dataDir }), /still running/, 'one server per db file');

    const workflowId = `infra-test-${Date.now()}`;
    let connection = await Connection.connect({ address: server.address });
    await new Client({ connection }).workflow.start('nope', { taskQueue: 'nobody-polls', workflowId });
    await connection.close();
    await server.stop();
    await assert.rejects(Connection.connect({ address: server.address, connectTimeout: 500 }));

    server = track(await startTemporal({ dataDir }));
    connection = await Connection.connect({ address: server.address });
    const description = await new Client({ connection }).workflow.getHandle(workflowId).describe();
    assert.equal(description.workflowId, workflowId);
    assert.equal(description.status.name, 'RUNNING');
    await connection.close();
    await server.stop();
  });

  test('serves the UI and can be used through TEMPORAL_ADDRESS', async () => {
    const server = track(await startTemporal({ ui: true }));
    assert.ok(server.uiUrl);
    const response = await fetch(server.uiUrl);
    assert.equal(response.status, 200);
    await response.arrayBuffer();

    const existing = track(await startTemporal({ address: server.address }));
    assert.equal(existing.address, server.address);
    assert.equal(existing.namespace, 'default');
    await existing.stop();
    // stop() on a connect-only handle must leave the server alone.
    await (await Connection.connect({ address: server.address })).close();
    await server.stop();
  });

  test('SDK-managed fallback registers attributes in a custom namespace', async () => {
    const executable = resolveTemporalExecutable();
    if (executable.type !== 'existing-path') return; // would need a download
    const server = track(
      await startViaTestEnvironment(executable, { namespace: 'ferry-test', port: await getFreePort(), log: () => {} }),
    );
    assert.deepEqual(await ferryAttributes(server.address, 'ferry-test'), allKeyword);
    await server.stop();
  });
});

describe('tool resolution', () => {
  test('explicit env vars win and must point at an executable', () => {
    assert.deepEqual(resolveTemporalExecutable({ TEMPORAL_CLI: '/bin/sh', PATH: '' }), {
      type: 'existing-path',
      path: '/bin/sh',
    });
    assert.throws(() => resolveTemporalExecutable({ TEMPORAL_CLI: '/nonexistent/temporal' }), /TEMPORAL_CLI/);
    assert.equal(resolveHelmBinary({ HELM_BIN: '/bin/sh' }), '/bin/sh');
    assert.throws(() => resolveHelmBinary({ HELM_BIN: '/nonexistent/helm' }), /HELM_BIN/);
  });

  test('PATH comes before the project-local copy', () => {
    const bin = tempDir('bin');
    for (const tool of ['temporal', 'helm']) fs.writeFileSync(path.join(bin, tool), '#!/bin/sh\n', { mode: 0o755 });
    assert.deepEqual(resolveTemporalExecutable({ PATH: bin }), { type: 'existing-path', path: path.join(bin, 'temporal') });
    assert.equal(resolveHelmBinary({ PATH: bin }), path.join(bin, 'helm'));
  });
});

test('leaves no child processes behind', () => {
  let children = '';
  try {
    children = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  } catch {
    // ps exits 1 when nothing matches
  }
  // tsx keeps an esbuild service child of its own; that one is not ours to clean up.
  const leftovers = children.split('\n').filter((l) => l.trim() && !/\bps -o|esbuild --service/.test(l));
  assert.deepEqual(leftovers, []);
});

describe('API listener', () => {
  test('a port already in use is an error naming it, not a server that never listens', async () => {
    const { listen } = await import('../server/ferry');
    const express = (await import('express')).default;
    const first = await listen(express(), 0, '127.0.0.1');
    const port = (first.address() as { port: number }).port;
    try {
      await assert.rejects(listen(express(), port, '127.0.0.1'), (err: NodeJS.ErrnoException) => err.code === 'EADDRINUSE');
    } finally {
      await new Promise((r) => first.close(r));
    }
  });
});
