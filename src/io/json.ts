// Reading JSON files with errors that name the file, line and column (JSON.parse reports a byte
// offset at best, and for some errors quotes the whole text instead).
import fs from 'node:fs';
import { InputError } from '../utils/errors.js';

/** 1-based line and column of a character offset in `text` (\n, \r\n and \r end lines). */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: end - start + 1 };
}

/** The first JSON syntax error in `text`: its offset and a short description; null when the text is valid JSON. */
export function locateJsonError(text: string): { offset: number; message: string } | null {
  const n = text.length;
  let i = 0;
  const stop = (message: string): never => {
    throw new JsonSyntax(i, message);
  };
  const found = () => (i >= n ? 'the end of the text' : `'${text[i]}'`);
  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c !== 32 && c !== 9 && c !== 10 && c !== 13) break;
      i++;
    }
  };
  const str = () => {
    i++;
    for (;;) {
      if (i >= n) stop('the text ends inside a string (cut short?)');
      const c = text.charCodeAt(i);
      if (c === 34) return void i++;
      if (c < 0x20) stop('a control character (a raw line break or tab?) inside a string');
      if (c === 92) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
            i++;
            stop('\\u must be followed by 4 hex digits');
          }
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else stop(`invalid escape '\\${e ?? ''}' in a string`);
      } else i++;
    }
  };
  const NUMBER = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
  const value = (): void => {
    ws();
    if (i >= n) stop('the text ends where a value should be (cut short?)');
    const c = text[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      ws();
      if (text[i] === close) return void i++;
      for (;;) {
        ws();
        if (c === '{') {
          if (text[i] !== '"') stop(`expected a property name in double quotes, found ${found()}`);
          str();
          ws();
          if (text[i] !== ':') stop(`expected ':' after the property name, found ${found()}`);
          i++;
        }
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === close) return void i++;
        stop(i >= n ? `the text ends inside ${c === '{' ? 'an object' : 'an array'} (cut short?)` : `expected ',' or '${close}', found ${found()}`);
      }
    }
    if (c === '"') return str();
    if (c === '-' || (c >= '0' && c <= '9')) {
      NUMBER.lastIndex = i;
      if (!NUMBER.test(text)) stop(`invalid number`);
      i = NUMBER.lastIndex;
      return;
    }
    for (const lit of ['true', 'false', 'null']) {
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return;
      }
    }
    stop(`expected a value, found ${found()}`);
  };
  try {
    value();
    ws();
    if (i < n) stop(`unexpected ${found()} after the JSON value`);
    return null;
  } catch (e) {
    if (e instanceof JsonSyntax) return { offset: e.offset, message: e.message };
    // Nesting deeper than the stack: leave the reporting to JSON.parse.
    if (e instanceof RangeError) return null;
    throw e;
  }
}

class JsonSyntax extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * JSON.parse with an InputError naming the file, line and column of a syntax error. `line` offsets
 * the reported line (a JSON-lines record: the record's line in the file).
 */
export function parseJson(text: string, where: { file?: string; line?: number; what?: string } = {}): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return JSON.parse(body);
  } catch (e) {
    const at = locateJsonError(body);
    const lc = at ? lineColumn(body, at.offset) : undefined;
    const detail = at ? at.message : (e as Error).message.slice(0, 200);
    const line = lc ? (where.line ?? 1) + lc.line - 1 : where.line;
    throw new InputError(`${where.what ? `${where.what}: ` : ''}invalid JSON: ${detail}`, { file: where.file, line, column: lc?.column });
  }
}

export function readJsonObject(file: string, what = 'config'): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read ${what}: ${(e as Error).message}`, { file });
  }
  const raw = parseJson(text, { file, what: `cannot read ${what}` });
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

/** Start offsets of the top-level elements of a JSON array text (for "element N at line:column"). */
export function arrayElementOffsets(text: string): number[] {
  const out: number[] = [];
  let depth = 0;
  let inString = false;
  let expectValue = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\ufeff') continue;
    if (depth === 1 && expectValue && c !== ']') {
      out.push(i);
      expectValue = false;
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') {
      depth++;
      if (depth === 1) expectValue = true;
    } else if (c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 1) expectValue = true;
  }
  return out;
}
