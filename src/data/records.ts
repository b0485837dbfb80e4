// Shared machinery of the readers: streaming line iteration, and the choice between failing on the
// first malformed record (default) and collecting bad records into a report.
import fs from 'node:fs';
import readline from 'node:readline';
import { arrayElementOffsets, lineColumn, parseJson } from '../io/json.js';
import { InputError } from '../utils/errors.js';

/** A record a reader rejected: where it is and why. */
export interface BadRecord {
  file: string;
  /** 1-based line (for a JSON array file: where the element starts). */
  line?: number;
  /** 1-based column (JSON syntax errors; the start of a JSON array element). */
  column?: number;
  /** 1-based index of the element in a JSON array file. */
  index?: number;
  field: string;
  message: string;
}

export interface ReadOptions {
  /** `throw` (default): the first malformed record raises an InputError. `collect`: it is skipped and reported. */
  onError?: 'throw' | 'collect';
  /** Where collected bad records go (`onError: 'collect'`); readers that return `{records, bad}` fill their own. */
  bad?: BadRecord[];
}

/** Thrown by per-record parsers; turned into an InputError or a BadRecord by `reportBad`. */
export class RecordError extends Error {
  constructor(
    readonly field: string,
    message: string,
    /** 1-based column in the record's line (JSON syntax errors). */
    readonly column?: number,
  ) {
    super(message);
  }
}

/** Raises (throw mode) or records (collect mode) a bad record. */
export function reportBad(opts: ReadOptions, bad: BadRecord[], rec: BadRecord): void {
  if ((opts.onError ?? 'throw') === 'throw') {
    throw new InputError(rec.message, { file: rec.file, line: rec.line, column: rec.column, element: rec.index, field: rec.field });
  }
  bad.push(rec);
}

type Where = { file: string; line?: number; column?: number; index?: number };

/**
 * Runs `parse` on one record; a RecordError becomes a bad record. Other errors propagate. `where` may
 * be a function, evaluated only for a bad record (locating an array element costs a scan).
 */
export function tryRecord<T>(opts: ReadOptions, bad: BadRecord[], where: Where | (() => Where), parse: () => T): T | undefined {
  try {
    return parse();
  } catch (e) {
    if (!(e instanceof RecordError)) throw e;
    const w = typeof where === 'function' ? where() : where;
    reportBad(opts, bad, { ...w, column: e.column ?? w.column, field: e.field, message: e.message });
    return undefined;
  }
}

/** The lines of a text file with their 1-based numbers, streamed (files may be larger than memory). */
export async function* readLines(file: string): AsyncGenerator<{ line: number; text: string }> {
  let stream: fs.ReadStream;
  try {
    await fs.promises.access(file, fs.constants.R_OK);
    stream = fs.createReadStream(file, { encoding: 'utf8' });
  } catch (e) {
    throw new InputError(`cannot read: ${(e as Error).message}`, { file });
  }
  const rl = readline.createInterface({ input: stream, crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const raw of rl) {
      line++;
      // A BOM on the first line would become part of the first id.
      const text = line === 1 && raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
      yield { line, text };
    }
  } catch (e) {
    // Stream errors (a directory, a vanished file) surface here; name the file.
    if ((e as NodeJS.ErrnoException).code) throw new InputError(`cannot read: ${(e as Error).message}`, { file });
    throw e;
  } finally {
    rl.close();
    stream.destroy();
  }
}

/** Splits on runs of whitespace (TREC files mix spaces and tabs). */
export function splitWhitespace(text: string): string[] {
  const t = text.trim();
  return t ? t.split(/\s+/) : [];
}

export function parseFiniteNumber(s: string, field: string): number {
  // Number('') is 0 and Number('0x10') is 16: accept only decimal float syntax, as atof would read it.
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) throw new RecordError(field, `not a number: '${s}'`);
  const v = Number(s);
  if (!Number.isFinite(v)) throw new RecordError(field, `not a finite number: '${s}'`);
  return v;
}

export function parseInteger(s: string, field: string): number {
  if (!/^[+-]?\d+$/.test(s)) throw new RecordError(field, `not an integer: '${s}'`);
  const v = Number(s);
  if (!Number.isSafeInteger(v)) throw new RecordError(field, `integer out of range: '${s}'`);
  return v;
}

/** Reads a whole JSON file (for JSON array formats), naming the file, line and column on a syntax error. */
export async function readJsonFile(file: string): Promise<unknown> {
  return (await readJsonText(file)).value;
}

/**
 * A whole JSON file and a way to find where element `index` (0-based) of its top-level array starts,
 * so errors say "element N" at a line and column rather than a number that reads like a line.
 */
export async function readJsonText(file: string): Promise<{ value: unknown; elementAt: (index: number) => { file: string; index: number; line?: number; column?: number } }> {
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read: ${(e as Error).message}`, { file });
  }
  const value = parseJson(text, { file });
  let offsets: number[] | undefined;
  return {
    value,
    elementAt: (index) => {
      offsets ??= arrayElementOffsets(text);
      const at = offsets[index];
      return at === undefined ? { file, index: index + 1 } : { file, index: index + 1, ...lineColumn(text, at) };
    },
  };
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

/** One JSON-lines record: a JSON object, else a RecordError on the 'json' field. */
export function parseJsonObject(text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = parseJson(text);
  } catch (e) {
    const err = e as InputError;
    throw new RecordError('json', err.detail, err.location.column);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new RecordError('json', `expected an object, got ${describe(v)}`);
  return v as Record<string, unknown>;
}
