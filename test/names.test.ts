import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  InvalidNameError,
  NAME_RE,
  NAME_RULE,
  safeRelativePath,
  sanitizeDNSName,
  validateName,
  zName,
} from '../src/names';

const VALID_NAMES = ['a', '0', 'prod', 'ledger-api', 'a-b-c', '9lives', 'x'.repeat(63), 'a1-b2'];

const INVALID_NAMES: Array<[string, unknown]> = [
  ['empty', ''],
  ['64 chars', 'x'.repeat(64)],
  ['upper case', 'Prod'],
  ['all upper', 'PROD'],
  ['leading dash', '-prod'],
  ['trailing dash', 'prod-'],
  ['dot-dot', '..'],
  ['single dot', '.'],
  ['dotted', 'my.app'],
  ['traversal', '../etc'],
  ['slash', 'a/b'],
  ['absolute path', '/etc/passwd'],
  ['backslash', 'a\\b'],
  ['NUL', 'prod\u0000'],
  ['trailing newline', 'prod\n'],
  ['space', 'my app'],
  ['tab', 'my\tapp'],
  ['underscore', 'my_app'],
  ['cyrillic a look-alike', 'prod-\u0430pp'],
  ['fullwidth letters', '\uff50\uff52\uff4f\uff44'],
  ['dotless i', 'l\u0131ve'],
  ['zero-width space', 'pr\u200bod'],
  ['number', 42],
  ['null', null],
  ['undefined', undefined],
  ['array', ['prod']],
];

describe('validateName', () => {
  for (const name of VALID_NAMES) {
    it(`accepts ${JSON.stringify(name)}`, () => {
      assert.equal(validateName('app', name), null);
      assert.ok(NAME_RE.test(name));
    });
  }
  for (const [label, value] of INVALID_NAMES) {
    it(`refuses ${label}`, () => {
      const reason = validateName('env', value);
      assert.equal(typeof reason, 'string');
      if (typeof value === 'string') assert.equal(reason, `env name ${NAME_RULE}`);
      else assert.equal(reason, 'env name must be a string');
    });
  }
  it('names the kind in the reason', () => {
    assert.match(validateName('cluster', 'Prod')!, /^cluster name must be 1-63 characters/);
    assert.match(validateName('namespace', 'Prod')!, /^namespace name /);
  });
});

describe('zName', () => {
  it('accepts what validateName accepts', () => {
    for (const name of VALID_NAMES) assert.equal(zName('app').parse(name), name);
  });
  for (const [label, value] of INVALID_NAMES) {
    it(`refuses ${label} with the same message as validateName`, () => {
      const result = zName('app').safeParse(value);
      assert.equal(result.success, false);
      assert.equal(result.error!.issues[0]!.message, validateName('app', value));
    });
  }
});

describe('sanitizeDNSName', () => {
  const cases: Array<[string, string]> = [
    ['feature/JIRA-12_foo', 'feature-jira-12-foo'],
    ['main', 'main'],
    ['Release/2026.10', 'release-2026-10'],
    ['--lead-and-trail--', 'lead-and-trail'],
    ['a//b__c', 'a-b-c'],
    ['  spaced  out  ', 'spaced-out'],
    ['ünïcode-brånch', 'n-code-br-nch'],
    ['dependabot/npm_and_yarn/yaml-2.9.1', 'dependabot-npm-and-yarn-yaml-2-9-1'],
    ['x'.repeat(100), 'x'.repeat(63)],
    // the 63-char cut lands on a '-', which must not be left dangling
    [`${'a'.repeat(62)}/b`, 'a'.repeat(62)],
  ];
  for (const [input, want] of cases) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(want)}`, () => {
      const got = sanitizeDNSName(input);
      assert.equal(got, want);
      assert.equal(validateName('app', got), null);
    });
  }
  for (const input of ['', '---', '/_/', '日本語', '\u0000']) {
    it(`throws on ${JSON.stringify(input)}`, () => {
      assert.throws(() => sanitizeDNSName(input), InvalidNameError);
    });
  }
});

describe('safeRelativePath', () => {
  const ok: Array<[string, string]> = [
    ['values.yaml', 'values.yaml'],
    ['manifests/deployment-web.yaml', 'manifests/deployment-web.yaml'],
    ['a/b/c/D_E-1.txt', 'a/b/c/D_E-1.txt'],
    ['.hidden', '.hidden'],
    ['...', '...'],
    ['x'.repeat(255), 'x'.repeat(255)],
    [Array(205).fill('abcd').join('/'), Array(205).fill('abcd').join('/')], // exactly 1024 bytes
  ];
  for (const [input, want] of ok) {
    it(`accepts ${JSON.stringify(input.length > 40 ? `${input.slice(0, 10)}…` : input)}`, () => {
      assert.equal(safeRelativePath(input), want);
    });
  }

  const bad: Array<[string, string, RegExp]> = [
    ['empty', '', /must not be empty/],
    ['parent', '..', /'\.\.' segments/],
    ['escape', '../secret.yaml', /'\.\.' segments/],
    ['inner escape', 'a/../../b', /'\.\.' segments/],
    ['absolute', '/etc/passwd', /must be relative/],
    ['dot segment', './a', /'\.' segments/],
    ['inner dot', 'a/./b', /'\.' segments/],
    ['double slash', 'a//b', /empty segments/],
    ['trailing slash', 'a/', /empty segments/],
    ['backslash', 'a\\b', /backslashes/],
    ['windows traversal', '..\\..\\x', /backslashes/],
    ['NUL', 'a\u0000b', /control characters/],
    ['newline', 'a\nb', /control characters/],
    ['DEL', 'a\u007f', /control characters/],
    ['space', 'a b.yaml', /may only contain/],
    ['colon', 'c:/x', /may only contain/],
    ['unicode', 'caf\u00e9.yaml', /may only contain/],
    ['long segment', 'x'.repeat(256), /255 bytes/],
    ['long path', Array(206).fill('abcd').join('/'), /1024 bytes/],
    ['.git', '.git/config', /'\.git'/],
    ['.GIT case trick', 'a/.GiT/hooks', /'\.git'/],
  ];
  for (const [label, input, reason] of bad) {
    it(`refuses ${label}`, () => {
      assert.throws(
        () => safeRelativePath(input),
        (err: unknown) => err instanceof InvalidNameError && err.field === 'path' && reason.test(err.reason),
      );
    });
  }
  it('reports the field it was given', () => {
    assert.throws(
      () => safeRelativePath('../x', 'files[0].path'),
      (err: unknown) => err instanceof InvalidNameError && err.field === 'files[0].path',
    );
  });
  it('refuses non-strings at runtime', () => {
    assert.throws(() => safeRelativePath(42 as unknown as string), InvalidNameError);
  });
});
