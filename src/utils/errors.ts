/** Where a bad input was found: the file, the 1-based line and column, the element of a JSON array, and the field. */
export interface InputLocation {
  file?: string;
  line?: number;
  /** 1-based column (character) in `line`. */
  column?: number;
  /** 1-based index of the element in a JSON array file (reported as "element N", never as a line). */
  element?: number;
  field?: string;
}

/**
 * An input the library cannot use (malformed file line, bad checkpoint, invalid config). The message
 * starts with `file:line[:column]: [element N: ]field 'x':` so a user can go straight to the spot.
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

export function formatLocation({ file, line, column, element, field }: InputLocation): string {
  let s = '';
  if (file) s += file;
  if (line !== undefined) s += `${file ? ':' : 'line '}${line}${column !== undefined ? `:${column}` : ''}`;
  if (s) s += ': ';
  if (element !== undefined) s += `element ${element}: `;
  if (field) s += `field '${field}': `;
  return s;
}
