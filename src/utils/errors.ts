/** Where a bad input was found: the file, the 1-based line, and the field. */
export interface InputLocation {
  file?: string;
  line?: number;
  field?: string;
}

/**
 * An input the library cannot use (malformed file line, bad checkpoint, invalid config). The message
 * starts with `file:line: field 'x':` so a user can go straight to the spot.
 */
export class InputError extends Error {
  readonly location: InputLocation;
  readonly detail: string;

  constructor(detail: string, location: InputLocation = {}) {
    super(formatLocation(location) + detail);
    this.name = 'InputError';
    this.detail = detail;
    this.location = location;
  }
}

export function formatLocation({ file, line, field }: InputLocation): string {
  let s = '';
  if (file) s += file;
  if (line !== undefined) s += `${file ? ':' : 'line '}${line}`;
  if (s) s += ': ';
  if (field) s += `field '${field}': `;
  return s;
}
