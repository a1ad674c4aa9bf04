import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';

/** A random secret persisted (hex, mode 0600) at `path`, created on first use. */
export function loadOrCreateSecret(path: string, bytes: number): Buffer {
  try {
    const text = readFileSync(path, 'utf8').trim();
    if (/^[0-9a-f]+$/i.test(text) && text.length >= bytes * 2) return Buffer.from(text, 'hex');
  } catch {
    // Missing: create below.
  }
  const secret = randomBytes(bytes);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, secret.toString('hex') + '\n', { mode: 0o600 });
  return secret;
}
