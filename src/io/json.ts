// Reading a JSON object file (model configs), with errors that name the file.
import fs from 'node:fs';
import { InputError } from '../utils/errors.js';

export function readJsonObject(file: string, what = 'config'): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new InputError(`cannot read ${what}: ${(e as Error).message}`, { file });
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new InputError(`${what} is not a JSON object`, { file });
  return raw as Record<string, unknown>;
}

/**
 * JSON text of a config in which the integral values of `floatKeys` keep a `.0`: transformers 5.x
 * validates those fields as floats and rejects `1` (JSON.stringify writes 1.0 as 1). Keys match at
 * any depth (e.g. rope_scaling.factor).
 */
export function configJsonText(json: Record<string, unknown>, floatKeys: readonly string[]): string {
  let text = JSON.stringify(json, null, 2);
  for (const k of floatKeys) text = text.replace(new RegExp(`("${k}": )(-?\\d+)(,?\\n)`, 'g'), '$1$2.0$3');
  return `${text}\n`;
}
