import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ArtifactInputSchema } from '../src/artifact/schema';
import { MAX_MATCH_WORK } from '../src/artifact/pattern-budget';
import { compileGlob, globMatches, globProblem, type GlobKind } from '../src/policy/glob';
import { regexProblem, restrictionRefusal, type Policy } from '../src/policy/policies';
import { compileRegex, PatternError, unsupportedSyntax } from '../src/regex';
import { targetProblem } from '../src/render/kustomize';

// [glob, value, kind, matches]
const GLOBS: Array<[string, string, GlobKind, boolean]> = [
  ['main', 'main', 'branch', true],
  ['feature/*', 'feature/x', 'branch', true],
  ['feature/*', 'feature/x/y', 'branch', false],
  ['feature/**', 'feature/x/y', 'branch', true],
  ['feature/**', 'feature', 'branch', true],
  ['**/hotfix', 'a/b/hotfix', 'branch', true],
  ['**/hotfix', 'hotfix', 'branch', true],
  ['a/**/b', 'a/b', 'branch', true],
  ['a/**/b', 'a/x/y/b', 'branch', true],
  ['a/**/b', 'a/xb', 'branch', false],
  ['**', 'any/thing', 'branch', true],
  ['{main,master}', 'master', 'branch', true],
  ['{main,master}', 'mai', 'branch', false],
  ['{a,{b,c}}x', 'cx', 'branch', true],
  ['{a}', '{a}', 'branch', true],
  ['v?.*', 'v1.2', 'tag', true],
  ['v*', 'v1/2', 'tag', false],
  ['[abc]x', 'bx', 'branch', true],
  ['[!abc]x', 'bx', 'branch', false],
  ['[^abc]x', 'dx', 'branch', true],
  ['[!abc]x', '/x', 'branch', false],
  ['[a-c]x', 'bx', 'branch', true],
  ['[-a]x', '-x', 'branch', true],
  ['[[:digit:]]*', '5x', 'branch', true],
  ['release/1.0', 'release/1x0', 'branch', false],
  ['a+b(c)|d', 'a+b(c)|d', 'branch', true],
  ['[unclosed', '[unclosed', 'branch', true],
  ['*', 'a/b', 'branch', false],
  ['*deploy*', 'Please deploy this', 'message', true],
  ['*\\[skip deploy\\]*', 'Fix [skip deploy]', 'message', true],
  ['*release*', 'chore: a/b\n\nrelease it', 'message', true],
  ['*fix(ui)*', 'feat: fix(ui) now', 'message', true],
  ['!*wip*', 'a wip change', 'message', false],
];

describe('globs compile to RE2', () => {
  for (const [glob, value, kind, want] of GLOBS) {
    test(`${JSON.stringify(glob)} ${want ? 'matches' : 'does not match'} ${JSON.stringify(value)} (${kind})`, () => {
      assert.equal(globProblem(glob, kind), null);
      assert.equal(globMatches(glob, value, kind), want);
    });
  }

  test('every glob that validates compiles, for any characters', () => {
    const alphabet = fc.constantFrom('a', 'b', '/', '*', '?', '[', ']', '!', '^', '-', '{', '}', ',', '\\', '(', ')', '|', '.', ':', '+', '$');
    fc.assert(
      fc.property(fc.array(alphabet, { minLength: 1, maxLength: 30 }).map((cs) => cs.join('')), fc.constantFrom<GlobKind>('branch', 'tag', 'message'), (glob, kind) => {
        if (globProblem(glob, kind) !== null) return;
        const pattern = glob.startsWith('!') ? glob.slice(1) : glob;
        compileGlob(pattern, kind);
        globMatches(glob, 'a/b', kind);
      }),
      { numRuns: 2000 },
    );
  });

  test('problems are named', () => {
    assert.match(globProblem('[[:bogus:]]')!, /unknown character class "\[:bogus:\]"/);
    assert.match(globProblem('[z-a]')!, /range "z-a" that runs backwards/);
    assert.match(globProblem('!')!, /negates nothing/);
  });

  test('a pattern that cannot be compiled matches nothing, negated or not', () => {
    assert.equal(globMatches('[[:bogus:]]', 'x', 'branch'), false);
    assert.equal(globMatches('![[:bogus:]]', 'x', 'branch'), false);
  });
});

describe('regular expressions from users', () => {
  const refused: Array<[string, RegExp]> = [
    ['^(a)\\1$', /backreference "\\1"/],
    ['(?<n>a)\\k<n>', /named backreference/],
    ['^(?=main)', /lookahead "\(\?=…\)"/],
    ['^(?!main)', /negative lookahead/],
    ['(?<=a)b', /lookbehind "\(\?<=…\)"/],
    ['(?<!a)b', /negative lookbehind/],
    ['(?>a+)b', /atomic group/],
  ];
  for (const [source, why] of refused) {
    test(`${source} is refused, naming the syntax`, () => {
      const problem = regexProblem(source)!;
      assert.match(problem, why);
      assert.match(problem, /linear time \(RE2 syntax\)/);
    });
  }

  test('inside a character class the same characters are literal', () => {
    assert.equal(unsupportedSyntax('[(?=]x'), null);
    assert.equal(unsupportedSyntax('[\\1]'), null);
    assert.equal(regexProblem('^[(?=]+$'), null);
  });

  test('parse errors say what RE2 found', () => {
    assert.match(regexProblem('^(main')!, /not a valid regular expression \(RE2 syntax\): missing closing \)/);
    assert.match(regexProblem('a{2000}')!, /invalid repeat count/);
    assert.throws(() => compileRegex('(?:[a-z]{1,900}){1,900}'), PatternError);
  });

  test('the exponential cases of the old engine answer at once', () => {
    const restriction: Policy = { id: 'r', kind: 'branch-restriction', app: 'shop', env: 'production', branchRegex: '^(a+)+$', source: 'api', createdBy: 'x', createdAt: null, updatedBy: 'x', updatedAt: null };
    assert.match(restrictionRefusal(restriction, `${'a'.repeat(250)}b`)!, /refuses branch/);
    assert.equal(globMatches('*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b', 'a'.repeat(255), 'branch'), false);
    assert.equal(targetProblem({ name: '(a+)+' }), null);
  });

  test('a stored restriction RE2 cannot compile refuses everything and says to replace it', () => {
    const old: Policy = { id: 'r', kind: 'branch-restriction', app: 'shop', env: 'production', branchRegex: '^(?!wip).*$', source: 'api', createdBy: 'x', createdAt: null, updatedBy: 'x', updatedAt: null };
    assert.match(restrictionRefusal(old, 'main')!, /cannot be evaluated: it uses negative lookahead.*replace it/);
  });
});

describe('an artifact\'s pattern budget', () => {
  const artifact = (environments: unknown[], message = 'fix') => ({ version: { sha: 'a'.repeat(40), repositoryName: 'acme/shop', branch: 'main', message }, environments });
  const file = (i: number, extra: Record<string, unknown>) => ({ app: `app-${i}`, env: 'staging', namespace: 'shop', manifests: '', ...extra });

  test('patch targets RE2 refuses are a 400 naming the field', () => {
    const r = ArtifactInputSchema.safeParse(artifact([file(1, { json6902Patches: [{ target: { kind: 'Deployment', name: '(a)\\1' }, patch: [{ op: 'remove', path: '/x' }] }] })]));
    assert.equal(r.success, false);
    assert.deepEqual(r.error!.issues[0]!.path, ['environments', 0, 'json6902Patches', 0, 'target', 'name']);
    assert.match(r.error!.issues[0]!.message, /backreference/);
    const parse = ArtifactInputSchema.safeParse(artifact([file(1, { json6902Patches: [{ target: { name: 'web-(' }, patch: [{ op: 'remove', path: '/x' }] }] })]));
    assert.match(parse.error!.issues[0]!.message, /missing closing \)/);
  });

  test('many long message patterns over a long message are refused; the same short ones everywhere are not', () => {
    const long = Array.from({ length: 10 }, (_, k) => `${'*a'.repeat(120)}*${k}`);
    const r = ArtifactInputSchema.safeParse(artifact([file(1, { deploy: { branch: 'main', commitMessagePatterns: long } })], 'a'.repeat(10_000)));
    assert.equal(r.success, false);
    assert.match(r.error!.issues[0]!.message, new RegExp(`at most ${MAX_MATCH_WORK}`));
    const honest = Array.from({ length: 200 }, (_, i) => file(i, { deploy: { branch: 'main', commitMessagePatterns: ['!*\\[skip deploy\\]*', '*deploy*'] } }));
    assert.equal(ArtifactInputSchema.safeParse(artifact(honest, 'x'.repeat(10_000))).success, true);
  });

  test('too many distinct pattern characters are refused before anything compiles', () => {
    const files = Array.from({ length: 200 }, (_, i) => file(i, { json6902Patches: Array.from({ length: 5 }, (_, j) => ({ target: { name: `${'n'.repeat(40)}-${i}-${j}` }, patch: [{ op: 'remove', path: '/x' }] })) }));
    const r = ArtifactInputSchema.safeParse(artifact(files));
    assert.equal(r.success, false);
    assert.match(r.error!.issues[0]!.message, /distinct patterns .* add up to \d+ characters/);
  });
});
