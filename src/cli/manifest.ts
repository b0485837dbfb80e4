// Resume manifests: every output a long command writes records what produced it (command, the
// settings that shape the result, input file hashes, library version). A restart compares its own
// settings with the record and refuses, naming each difference, rather than silently appending
// results made another way; --force sets the old output aside and starts a new one.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseJson } from '../io/json.js';
import { InputError } from '../utils/errors.js';
import { libraryVersion } from '../utils/version.js';

export interface OutputManifest {
  /** The command that wrote the output ("label", "rerank", "train"). */
  command: string;
  /** rankdistill version that wrote it (recorded, not compared). */
  rankdistill: string;
  created: string;
  /** What the output depends on; compared on every restart. Nested objects compare key by key. */
  settings: Record<string, unknown>;
  /** Recorded but not compared (server URL, input paths, host). */
  info?: Record<string, unknown>;
}

/** A new manifest for `command` with these settings. */
export function makeManifest(command: string, settings: Record<string, unknown>, info?: Record<string, unknown>): OutputManifest {
  return { command, rankdistill: libraryVersion(), created: new Date().toISOString(), settings, ...(info ? { info } : {}) };
}

/** The manifest beside an output file (`OUT.manifest.json`) or inside an output folder (`DIR/manifest.json`). */
export function manifestFileFor(out: string, kind: 'file' | 'dir' = 'file'): string {
  return kind === 'dir' ? path.join(out, 'manifest.json') : `${out}.manifest.json`;
}

/** sha256 of a file's bytes, streamed (inputs may be large). */
export async function fileSha256(file: string): Promise<string> {
  const h = createHash('sha256');
  try {
    for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  } catch (e) {
    throw new InputError(`cannot read: ${(e as Error).message}`, { file });
  }
  return h.digest('hex');
}

export function readManifest(file: string): OutputManifest | null {
  if (!fs.existsSync(file)) return null;
  const m = parseJson(fs.readFileSync(file, 'utf8'), { file, what: 'manifest' }) as OutputManifest;
  if (!m || typeof m !== 'object' || typeof m.command !== 'string' || !m.settings || typeof m.settings !== 'object') {
    throw new InputError('not a rankdistill output manifest (remove it, or give --force to start a new output)', { file });
  }
  return m;
}

/** Written atomically: a kill never leaves a half manifest. */
export function writeManifest(file: string, m: OutputManifest): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, `${JSON.stringify(m, null, 2)}\n`);
  fs.renameSync(tmp, file);
}

function flatten(o: Record<string, unknown>, prefix = '', out: Map<string, unknown> = new Map()): Map<string, unknown> {
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v as Record<string, unknown>, `${prefix}${k}.`, out);
    else out.set(`${prefix}${k}`, v);
  }
  return out;
}

function show(v: unknown): string {
  if (v === undefined) return '(not set)';
  const s = JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}…` : s;
}

/** The settings that differ, as "key: A then, B now" (empty when equal). */
export function settingsDiff(then: Record<string, unknown>, now: Record<string, unknown>): string[] {
  const a = flatten(then);
  const b = flatten(now);
  const keys = [...new Set([...a.keys(), ...b.keys()])];
  return keys.filter((k) => JSON.stringify(a.get(k)) !== JSON.stringify(b.get(k))).map((k) => `${k}: ${show(a.get(k))} then, ${show(b.get(k))} now`);
}

/** A name for setting an old output aside: `OUT.replaced-20261201T101500`. */
export function asideName(p: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '');
  let name = `${p}.replaced-${stamp}`;
  for (let i = 2; fs.existsSync(name); i++) name = `${p}.replaced-${stamp}-${i}`;
  return name;
}

export interface ResumeCheck {
  /** 'new': nothing to resume; 'resume': the output continues with the same settings; 'forced': the old output was set aside. */
  status: 'new' | 'resume' | 'forced';
  /** Where the old outputs went (forced). */
  setAside: string[];
}

/**
 * Before writing `out`: compares `manifest` with the one recorded for it. Same settings → resume;
 * no record and no output → new; other settings → InputError naming each difference. `force`
 * renames the old outputs (`outputs`, those that exist, and the manifest) aside and starts anew.
 * `hasOutput` says whether `out` holds results; an output without a manifest (an older rankdistill)
 * is checked with `legacyDiff` when given (differences it finds refuse like a manifest's), else refused.
 */
export function checkResume(opts: {
  out: string;
  manifestFile: string;
  manifest: OutputManifest;
  force?: boolean;
  hasOutput: boolean;
  outputs: string[];
  legacyDiff?: () => string[];
}): ResumeCheck {
  const prev = readManifest(opts.manifestFile);
  const setAside = () => {
    const moved: string[] = [];
    for (const p of [...opts.outputs, opts.manifestFile]) {
      if (!fs.existsSync(p)) continue;
      const to = asideName(p);
      fs.renameSync(p, to);
      moved.push(to);
    }
    return moved;
  };
  if (opts.force) {
    // A new output whatever the old one was: keep the old one under another name, never mix.
    const moved = setAside();
    writeManifest(opts.manifestFile, opts.manifest);
    return { status: moved.length ? 'forced' : 'new', setAside: moved };
  }
  let diff: string[];
  if (prev) {
    diff = prev.command !== opts.manifest.command ? [`command: ${prev.command} then, ${opts.manifest.command} now`] : settingsDiff(prev.settings, opts.manifest.settings);
  } else if (!opts.hasOutput) {
    writeManifest(opts.manifestFile, opts.manifest);
    return { status: 'new', setAside: [] };
  } else {
    diff = opts.legacyDiff ? opts.legacyDiff() : ['(no manifest: the output was written by an older rankdistill or another tool)'];
  }
  if (diff.length) {
    throw new InputError(
      `was written ${prev ? `by \`rankdistill ${prev.command}\` ` : ''}with other settings, so resuming would mix results made two ways: ${diff.join('; ')}. ` +
        'Run again with the same settings to resume, or give --force to set the old output aside and start a new one.',
      { file: opts.out },
    );
  }
  // A legacy output that agrees with the settings is adopted: record them from now on.
  if (!prev) writeManifest(opts.manifestFile, opts.manifest);
  return { status: 'resume', setAside: [] };
}
