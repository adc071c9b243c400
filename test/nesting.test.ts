import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { jsonNestingProblem, nestingProblem } from '../src/nesting';

describe('nesting limits', () => {
  test('deep values are named with where they go too deep; shared (non-recursive) nodes are fine', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    assert.match(nestingProblem({ values: deep })!, /^values(\[0\]){99} is nested more than 100 levels deep$/);
    const shared = { x: 1 };
    assert.equal(nestingProblem({ a: shared, b: [shared, shared] }), null);
    const loop: Record<string, unknown> = {};
    loop.self = { back: loop };
    assert.match(nestingProblem({ doc: loop })!, /doc\.self\.back refers to a node that contains it/);
  });

  test('raw JSON is measured outside strings, escapes included', () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    assert.equal(jsonNestingProblem(enc(`{"a":"${'['.repeat(500)}\\"${'{'.repeat(500)}"}`)), null);
    assert.match(jsonNestingProblem(enc('['.repeat(101)))!, /more than 100 levels deep \(at byte 100\)/);
    assert.equal(jsonNestingProblem(enc(`${'['.repeat(100)}${']'.repeat(100)}`)), null);
  });
});
