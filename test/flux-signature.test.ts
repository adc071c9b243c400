import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { signFluxBody, verifyFluxSignature, type FluxHmacAlgo } from '../src/flux/signature';

const SECRET = 'provider-token';
const BODY = Buffer.from(
  '{"involvedObject":{"kind":"Kustomization","namespace":"flux-system","name":"ledger-api"},"severity":"info","reason":"Progressing"}',
);

describe('signFluxBody', () => {
  it('produces <algo>=<lower-case hex HMAC over the body>', () => {
    const want = createHmac('sha256', SECRET).update(BODY).digest('hex');
    assert.equal(signFluxBody(BODY, SECRET), `sha256=${want}`);
  });
  it('signs strings as their UTF-8 bytes', () => {
    assert.equal(signFluxBody(BODY.toString('utf8'), SECRET), signFluxBody(BODY, SECRET));
  });
  it('refuses an empty secret and unknown algorithms', () => {
    assert.throws(() => signFluxBody(BODY, ''));
    assert.throws(() => signFluxBody(BODY, SECRET, 'md5' as FluxHmacAlgo));
  });
});

describe('verifyFluxSignature', () => {
  for (const algo of ['sha224', 'sha256', 'sha384', 'sha512'] as const) {
    it(`accepts a valid ${algo} signature`, () => {
      assert.equal(verifyFluxSignature(BODY, signFluxBody(BODY, SECRET, algo), SECRET), true);
    });
  }

  const good = signFluxBody(BODY, SECRET);
  const hex = good.slice('sha256='.length);
  it('tolerates surrounding whitespace, upper-case hex and an upper-case algorithm', () => {
    assert.equal(verifyFluxSignature(BODY, ` ${good}\t`, SECRET), true);
    assert.equal(verifyFluxSignature(BODY, `sha256=${hex.toUpperCase()}`, SECRET), true);
    assert.equal(verifyFluxSignature(BODY, `SHA256=${hex}`, SECRET), true);
  });

  const flipped = `sha256=${hex.slice(0, -1)}${hex.endsWith('0') ? '1' : '0'}`;
  const rejects: Array<[string, Buffer, string | undefined, string]> = [
    ['missing header', BODY, undefined, SECRET],
    ['empty header', BODY, '', SECRET],
    ['empty secret', BODY, good, ''],
    ['wrong secret', BODY, good, 'other-token'],
    ['body changed by one byte', Buffer.concat([BODY, Buffer.from(' ')]), good, SECRET],
    ['re-serialised body', Buffer.from(JSON.stringify(JSON.parse(BODY.toString()), null, 2)), good, SECRET],
    ['one hex digit flipped', BODY, flipped, SECRET],
    ['no algorithm', BODY, hex, SECRET],
    ['empty algorithm', BODY, `=${hex}`, SECRET],
    ['unsupported algorithm', BODY, `sha1=${createHmac('sha1', SECRET).update(BODY).digest('hex')}`, SECRET],
    ['md5', BODY, `md5=${createHmac('md5', SECRET).update(BODY).digest('hex')}`, SECRET],
    ['algorithm mismatch', BODY, `sha512=${hex}`, SECRET],
    ['empty digest', BODY, 'sha256=', SECRET],
    ['truncated digest', BODY, good.slice(0, -2), SECRET],
    ['odd-length digest', BODY, `${good}0`, SECRET],
    ['digest with trailing garbage', BODY, `${good}zz`, SECRET],
    ['non-hex digest of the right length', BODY, `sha256=${'z'.repeat(64)}`, SECRET],
    ['base64 digest', BODY, `sha256=${createHmac('sha256', SECRET).update(BODY).digest('base64')}`, SECRET],
    ['two signatures joined by a proxy', BODY, `${good}, ${good}`, SECRET],
    ['prototype key as algorithm', BODY, `constructor=${hex}`, SECRET],
  ];
  for (const [label, body, header, secret] of rejects) {
    it(`rejects ${label}`, () => assert.equal(verifyFluxSignature(body, header, secret), false));
  }

  it('rejects a parsed object instead of the raw body', () => {
    const parsed = JSON.parse(BODY.toString()) as unknown as Buffer;
    assert.equal(verifyFluxSignature(parsed, good, SECRET), false);
  });
  it('rejects a header array', () => {
    assert.equal(verifyFluxSignature(BODY, [good] as unknown as string, SECRET), false);
  });
});
