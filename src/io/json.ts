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
