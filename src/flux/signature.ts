import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * HMAC header of Flux's `generic-hmac` provider: `X-Signature: <algo>=<hex>`,
 * computed over the exact request body bytes. Flux signs with sha256; its
 * documented verifier accepts the other SHA-2 sizes too, so we do as well.
 */
export type FluxHmacAlgo = 'sha224' | 'sha256' | 'sha384' | 'sha512';

const DIGEST_BYTES: Record<FluxHmacAlgo, number> = { sha224: 28, sha256: 32, sha384: 48, sha512: 64 };

function isFluxHmacAlgo(s: string): s is FluxHmacAlgo {
  return Object.hasOwn(DIGEST_BYTES, s);
}

export function verifyFluxSignature(rawBody: Buffer, header: string | undefined, secret: string): boolean {
  // Runtime guards: this sits behind an HTTP route, where a misconfigured body
  // parser hands us an object and a repeated header becomes a joined string.
  if (!Buffer.isBuffer(rawBody) || typeof header !== 'string') return false;
  if (typeof secret !== 'string' || secret === '') return false;

  const value = header.trim();
  const eq = value.indexOf('=');
  if (eq <= 0) return false;
  const algo = value.slice(0, eq).toLowerCase();
  const hex = value.slice(eq + 1);
  if (!isFluxHmacAlgo(algo)) return false;
  // Exact length first: Buffer.from(hex) silently drops a trailing odd digit and
  // stops at the first non-hex character, which would let garbage through.
  if (hex.length !== DIGEST_BYTES[algo] * 2 || !/^[0-9a-fA-F]+$/.test(hex)) return false;

  const want = createHmac(algo, secret).update(rawBody).digest();
  const got = Buffer.from(hex, 'hex');
  return got.length === want.length && timingSafeEqual(got, want);
}

/** The full `X-Signature` header value Flux would send for `body`. */
export function signFluxBody(body: Buffer | string, secret: string, algo: FluxHmacAlgo = 'sha256'): string {
  if (!isFluxHmacAlgo(algo)) throw new Error(`unsupported HMAC algorithm ${JSON.stringify(algo)}`);
  // An empty key would produce a signature that verifyFluxSignature refuses anyway.
  if (secret === '') throw new Error('HMAC secret must not be empty');
  return `${algo}=${createHmac(algo, secret).update(body).digest('hex')}`;
}
