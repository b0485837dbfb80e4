// Numeric command-line options, checked the same way by every command.
import { InputError } from '../utils/errors.js';

/** A non-negative decimal integer ≥ `min`, or undefined when the option was not given. */
export function intOption(v: string | undefined, name: string, min = 0): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min) throw new InputError(`--${name} must be an integer >= ${min}, got '${v}'`, { field: `--${name}` });
  return Number(v);
}
