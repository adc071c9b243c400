import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderTemplate, renderTemplateDeep, TemplateError } from '../src/render/template';

const VARS = { APP: 'ledger-api', BRANCH: 'feature/JIRA-12_foo', Mixed_Case1: 'Hello', EMPTY: '', SHA: 'abc123' };

describe('renderTemplate', () => {
  const cases: Array<[string, string, string]> = [
    ['spaced', 'name: {{ .APP }}', 'name: ledger-api'],
    ['tight', 'name: {{.APP}}', 'name: ledger-api'],
    ['tabs and newlines inside the action', 'x{{\t.APP\n}}y', 'xledger-apiy'],
    ['several on one line', '{{ .APP }}-{{ .SHA }}', 'ledger-api-abc123'],
    ['pipe', 'host: {{ .BRANCH | sanitizeDNSName }}.example.com', 'host: feature-jira-12-foo.example.com'],
    ['call', 'host: {{ sanitizeDNSName .BRANCH }}', 'host: feature-jira-12-foo'],
    ['lower', '{{ .Mixed_Case1 | lower }}', 'hello'],
    ['upper', '{{ upper .APP }}', 'LEDGER-API'],
    ['chained pipes', '{{ .BRANCH | upper | sanitizeDNSName }}', 'feature-jira-12-foo'],
    ['quote', 'v: {{ quote .APP }}', 'v: "ledger-api"'],
    ['quote escapes', 'v: {{ .X | quote }}', 'v: "say \\"hi\\"\\n"'],
    ['default with missing var', '{{ default "main" .NOPE }}', 'main'],
    ['default piped', '{{ .NOPE | default "main" }}', 'main'],
    ['default with empty var', '{{ default "main" .EMPTY }}', 'main'],
    ['default with set var', '{{ default "main" .APP }}', 'ledger-api'],
    ['default then function', '{{ .NOPE | default "Main" | lower }}', 'main'],
    ['empty var is substituted as empty', 'a{{ .EMPTY }}b', 'ab'],
    ['string literal', '{{ "{{ literal }}" }}', '{{ literal }}'],
    ['raw string literal', '{{ `a"b` }}', 'a"b'],
    ['text without actions', 'plain: text\n', 'plain: text\n'],
    ['single braces untouched', 'json: {"a": {"b": 1}}', 'json: {"a": {"b": 1}}'],
    ['lone closing braces untouched', 'x: }} and } and {', 'x: }} and } and {'],
    ['value is not re-rendered', '{{ .INJECT }}', '{{ .APP }}'],
    ['multi-line', 'a: {{ .APP }}\nb: {{ .SHA }}\n', 'a: ledger-api\nb: abc123\n'],
  ];
  const vars = { ...VARS, X: 'say "hi"\n', INJECT: '{{ .APP }}' };
  for (const [label, text, want] of cases) {
    it(label, () => assert.equal(renderTemplate(text, vars), want));
  }
});

describe('renderTemplate errors', () => {
  function errorOf(fn: () => unknown): TemplateError {
    try {
      fn();
    } catch (err) {
      assert.ok(err instanceof TemplateError, `expected TemplateError, got ${String(err)}`);
      return err;
    }
    assert.fail('expected a TemplateError');
  }

  it('names the missing variable, the file and the line', () => {
    const err = errorOf(() => renderTemplate('a: 1\nb: 2\nimage: {{ .IMAGE }}\n', VARS, { file: 'envs/prod.yaml' }));
    assert.equal(err.variable, 'IMAGE');
    assert.equal(err.file, 'envs/prod.yaml');
    assert.equal(err.line, 3);
    assert.match(err.message, /IMAGE/);
    assert.match(err.message, /envs\/prod\.yaml:3/);
  });
  it('reports the line without a file', () => {
    const err = errorOf(() => renderTemplate('\n\n\n{{ .NOPE }}', VARS));
    assert.equal(err.line, 4);
    assert.equal(err.file, undefined);
    assert.match(err.message, /^line 4: .*"NOPE"/);
  });
  it('never substitutes an empty string for a missing var, even inside a function', () => {
    for (const text of ['{{ .NOPE }}', '{{ .NOPE | lower }}', '{{ sanitizeDNSName .NOPE }}', '{{ quote .NOPE }}']) {
      assert.equal(errorOf(() => renderTemplate(text, VARS)).variable, 'NOPE');
    }
  });
  it('default needs its fallback to exist', () => {
    assert.equal(errorOf(() => renderTemplate('{{ default .ALSO_NOPE .NOPE }}', VARS)).variable, 'ALSO_NOPE');
  });
  it('does not resolve Object.prototype members as variables', () => {
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      assert.equal(errorOf(() => renderTemplate(`{{ .${name} }}`, VARS)).variable, name);
    }
  });
  it('does not treat unknown functions as variables or identity', () => {
    const err = errorOf(() => renderTemplate('{{ .APP | b64enc }}', VARS, { file: 'f.yaml' }));
    assert.equal(err.func, 'b64enc');
    assert.match(err.message, /unknown function "b64enc"/);
    assert.equal(errorOf(() => renderTemplate('{{ constructor .APP }}', VARS)).func, 'constructor');
  });
  const syntax: Array<[string, string, RegExp]> = [
    ['unterminated action', 'image: {{ .APP', /unterminated action/],
    ['unterminated at end of text', 'x {{', /unterminated action/],
    ['single closing brace', '{{ .APP }', /unterminated action|unexpected/],
    ['empty action', '{{ }}', /empty action/],
    ['bare dot', '{{ . }}', /variable name/],
    ['nested field', '{{ .Values.image }}', /nested fields/],
    ['variable name starting with a digit', '{{ .1abc }}', /variable name/],
    ['trim marker left', '{{- .APP }}', /trim markers/],
    ['trim marker right', '{{ .APP -}}', /trim markers/],
    ['comment', '{{/* note */}}', /unexpected/],
    ['unterminated string', '{{ "abc }}', /unterminated string/],
    ['bad escape', '{{ "\\x41" }}', /unsupported escape/],
    ['value with arguments', '{{ .APP .SHA }}', /cannot take arguments/],
    ['piping into a value', '{{ .APP | .SHA }}', /cannot take arguments/],
    ['empty pipe stage', '{{ .APP | }}', /empty command/],
    ['wrong arity', '{{ lower .APP .SHA }}', /takes 1 argument, got 2/],
    ['default arity', '{{ default "x" }}', /takes 2 arguments, got 1/],
    ['function as argument', '{{ lower upper }}', /cannot be used as an argument/],
    ['parentheses', '{{ lower (upper .APP) }}', /unexpected "\("/],
    ['sanitize to nothing', '{{ sanitizeDNSName "___" }}', /sanitizeDNSName/],
  ];
  for (const [label, text, re] of syntax) {
    it(`${label}: ${JSON.stringify(text)}`, () => {
      const err = errorOf(() => renderTemplate(text, VARS, { file: 't.yaml' }));
      assert.match(err.message, re);
      assert.match(err.message, /^t\.yaml:1: /);
    });
  }
  it('reports the line of the opening braces of an unterminated action', () => {
    assert.equal(errorOf(() => renderTemplate('a\nb: {{ .APP\nc\nd', VARS)).line, 2);
  });
});

describe('renderTemplateDeep', () => {
  it('renders strings at any depth, leaves keys and other scalars alone, and copies', () => {
    const input = {
      image: { repository: 'registry/{{ .APP }}', tag: '{{ .SHA }}' },
      '{{ .APP }}': 'key stays',
      ingress: { hosts: ['{{ .BRANCH | sanitizeDNSName }}.example.com'], enabled: true, port: 8080, extra: null },
    };
    const out = renderTemplateDeep(input, VARS);
    assert.deepEqual(out, {
      image: { repository: 'registry/ledger-api', tag: 'abc123' },
      '{{ .APP }}': 'key stays',
      ingress: { hosts: ['feature-jira-12-foo.example.com'], enabled: true, port: 8080, extra: null },
    });
    assert.equal(input.image.tag, '{{ .SHA }}');
  });
  it('renders a bare string', () => {
    assert.equal(renderTemplateDeep('{{ .APP }}', VARS), 'ledger-api');
  });
  it('names the file and the key path of a missing var', () => {
    try {
      renderTemplateDeep({ values: { image: { tag: 'x\n{{ .TAG }}' } } }, VARS, { file: 'envs/prod.yaml' });
      assert.fail('expected a TemplateError');
    } catch (err) {
      assert.ok(err instanceof TemplateError);
      assert.equal(err.variable, 'TAG');
      assert.equal(err.path, 'values.image.tag');
      assert.equal(err.line, 2);
      assert.match(err.message, /envs\/prod\.yaml: values\.image\.tag \(line 2 of the value\): missing template variable "TAG"/);
    }
  });
  it('keeps a __proto__ key as data', () => {
    const input = JSON.parse('{"__proto__": {"polluted": "{{ .APP }}"}}') as Record<string, unknown>;
    const out = renderTemplateDeep(input, VARS) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(out, '__proto__')?.value, { polluted: 'ledger-api' });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
  it('stops on self-referencing values instead of overflowing the stack', () => {
    const loop: Record<string, unknown> = { a: 'x' };
    loop.self = loop;
    assert.throws(() => renderTemplateDeep(loop, VARS), TemplateError);
  });
});
