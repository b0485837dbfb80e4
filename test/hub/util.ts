// Small helpers of the hub tests: an expected HubError, and a cache folder's content as text.
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { HubError } from '../../src/hub/index.js';

/** The HubError `p` rejects with (fails when it resolves or rejects with something else). */
export async function rejection(p: Promise<unknown>): Promise<HubError> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(HubError, String(e));
    return e as HubError;
  }
  throw new Error('expected a rejection');
}

/** Every entry under `dir`, relative and sorted: folders end in `/`, links show `-> target`, files their size when `sizes`. */
export function tree(dir: string, sizes = false): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.existsSync(d) ? fs.readdirSync(d, { withFileTypes: true }) : []) {
      const p = path.join(d, e.name);
      const rel = path.relative(dir, p);
      if (e.isSymbolicLink()) out.push(`${rel} -> ${fs.readlinkSync(p)}`);
      else if (e.isDirectory()) {
        out.push(`${rel}/`);
        walk(p);
      } else out.push(sizes ? `${rel} (${fs.statSync(p).size} B)` : rel);
    }
  };
  walk(dir);
  return out.sort();
}

/** Files and links (no folders) under `dir`, relative, sorted. */
export function filesUnder(dir: string): string[] {
  return tree(dir)
    .filter((p) => !p.endsWith('/'))
    .map((p) => p.replace(/ -> .*$/, ''));
}
