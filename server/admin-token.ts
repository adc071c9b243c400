import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * FERRY_ADMIN_TOKEN wins; otherwise a token is generated on first start and kept (mode 0600) in the data folder.
 * `generated` tells the caller to print it this once.
 */
export async function loadAdminToken(dataDir: string, fromEnv?: string): Promise<{ token: string; file?: string; generated: boolean }> {
  if (fromEnv) return { token: fromEnv, generated: false };
  const file = path.join(dataDir, 'admin-token');
  try {
    const token = (await fs.readFile(file, 'utf8')).trim();
    if (token.length >= 16) return { token, file, generated: false };
  } catch {
    // first start: fall through and generate
  }
  const token = randomBytes(32).toString('base64url');
  await fs.mkdir(dataDir, { recursive: true });
  await fs.writeFile(file, `${token}\n`, { mode: 0o600 });
  return { token, file, generated: true };
}
