// The local Hugging Face cache, laid out exactly as Python's huggingface_hub writes it, so that
// Python and TypeScript share one cache:
//
//   <cache>/models--<org>--<name>/
//     blobs/<etag>                      file contents, named by the Hub's ETag: the sha256 of an LFS
//                                       file, the git blob sha1 of a small one
//     snapshots/<commit>/<file>         relative symlink → ../../blobs/<etag> (one more ../ per folder)
//     refs/<revision>                   the commit a branch or tag pointed to when last seen
//     .no_exist/<commit>/<file>         empty marker: the file is known to be absent at that commit
//
// <cache> is the `cacheDir` option, else HF_HUB_CACHE (or the older HUGGINGFACE_HUB_CACHE), else
// $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { HubError } from './errors.js';

export const COMMIT_RE = /^[0-9a-f]{40}$/;

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p;
}

/** The HF hub cache folder (see the top of this file for the order of precedence). */
export function hubCacheDir(cacheDir?: string): string {
  const env = process.env;
  const chosen = cacheDir || env.HF_HUB_CACHE || env.HUGGINGFACE_HUB_CACHE;
  if (chosen) return path.resolve(expandHome(chosen));
  const home = env.HF_HOME ? expandHome(env.HF_HOME) : path.join(env.XDG_CACHE_HOME ? expandHome(env.XDG_CACHE_HOME) : path.join(os.homedir(), '.cache'), 'huggingface');
  return path.resolve(home, 'hub');
}

/** Whether `id` has the form of a Hub model id: `name` or `org/name`, of [A-Za-z0-9_.-], no `--` or `..`. */
export function isRepoId(id: string): boolean {
  return /^[A-Za-z0-9][\w.-]{0,95}(\/[\w.-]{1,96})?$/.test(id) && !id.includes('--') && !id.includes('..') && !/[.-]$/.test(id);
}

/** `models--org--name`, huggingface_hub's folder name for a model repository. */
export function repoFolderName(id: string): string {
  return ['models', ...id.split('/')].join('--');
}

/** One model repository in a cache. */
export class RepoCache {
  readonly root: string;
  readonly storage: string;

  constructor(
    readonly id: string,
    cacheDir?: string,
  ) {
    this.root = hubCacheDir(cacheDir);
    this.storage = path.join(this.root, repoFolderName(id));
  }

  get blobs(): string {
    return path.join(this.storage, 'blobs');
  }

  blobPath(etag: string): string {
    return path.join(this.blobs, etag);
  }

  snapshotDir(commit: string): string {
    return path.join(this.storage, 'snapshots', commit);
  }

  /** The snapshot entry of `file` (a repo path with `/`), refusing paths that leave the snapshot. */
  pointerPath(commit: string, file: string): string {
    const dir = this.snapshotDir(commit);
    const p = path.join(dir, ...file.split('/'));
    if (!p.startsWith(dir + path.sep) || file.split('/').some((s) => s === '..' || s === '.' || s === '')) {
      throw new HubError('BAD_RESPONSE', `invalid file name ${JSON.stringify(file)} for ${this.id}`);
    }
    return p;
  }

  /** The commit of `revision`: itself if it is a commit hash, else the content of refs/<revision>. */
  commitOf(revision: string): string | null {
    if (COMMIT_RE.test(revision)) return revision;
    try {
      const c = fs.readFileSync(path.join(this.storage, 'refs', ...revision.split('/')), 'utf8').trim();
      return COMMIT_RE.test(c) ? c : null;
    } catch {
      return null;
    }
  }

  /** The cached copy of `file` at `commit` (the snapshot path), or null. A dangling link counts as absent. */
  cachedFile(commit: string, file: string): string | null {
    const p = this.pointerPath(commit, file);
    try {
      return fs.statSync(p).isFile() ? p : null;
    } catch {
      return null;
    }
  }

  /** Whether the absence of `file` at `commit` was recorded (a 404 seen by us or by huggingface_hub). */
  knownAbsent(commit: string, file: string): boolean {
    return fs.existsSync(path.join(this.storage, '.no_exist', commit, ...file.split('/')));
  }

  markAbsent(commit: string, file: string): void {
    const p = path.join(this.storage, '.no_exist', commit, ...file.split('/'));
    try {
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.closeSync(fs.openSync(p, 'a'));
    } catch {
      // Only an optimisation (huggingface_hub logs and goes on too).
    }
  }

  /** Records that `revision` (a branch or tag) points to `commit`; atomic, and only when it changed. */
  writeRef(revision: string, commit: string): void {
    if (revision === commit) return;
    const ref = path.join(this.storage, 'refs', ...revision.split('/'));
    try {
      if (fs.readFileSync(ref, 'utf8') === commit) return;
    } catch {
      // absent
    }
    fs.mkdirSync(path.dirname(ref), { recursive: true });
    const tmp = tempName(ref, 'tmp');
    try {
      fs.writeFileSync(tmp, commit);
      fs.renameSync(tmp, ref);
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }

  /**
   * Moves a finished temporary file to blobs/<etag> (atomic rename; when the blob is already there
   * with the same size, e.g. written meanwhile by another process, the temporary file is dropped).
   */
  installBlob(tmp: string, etag: string): string {
    const blob = this.blobPath(etag);
    try {
      if (fs.statSync(blob).size === fs.statSync(tmp).size) {
        fs.rmSync(tmp, { force: true });
        return blob;
      }
    } catch {
      // not there yet
    }
    fs.renameSync(tmp, blob);
    return blob;
  }

  /**
   * Makes snapshots/<commit>/<file> a relative symlink to blobs/<etag>, as huggingface_hub does
   * (`../../blobs/<etag>`, one more `../` per sub-folder). Created under a temporary name and renamed
   * over the entry, so a reader never sees a missing or half-made link.
   */
  linkSnapshot(commit: string, file: string, etag: string): string {
    const pointer = this.pointerPath(commit, file);
    const target = path.relative(path.dirname(pointer), this.blobPath(etag));
    try {
      if (fs.readlinkSync(pointer) === target) return pointer;
    } catch {
      // absent, or not a link
    }
    fs.mkdirSync(path.dirname(pointer), { recursive: true });
    const tmp = tempName(pointer, 'tmp');
    try {
      fs.symlinkSync(target, tmp);
      fs.renameSync(tmp, pointer);
    } finally {
      fs.rmSync(tmp, { force: true });
    }
    return pointer;
  }
}

/**
 * `<base>.<pid>-<8 hex>.<suffix>`: a temporary name unique to this process, whose owner can be
 * checked. Owner 0 marks a file no process holds (a partial download kept for a later resume).
 */
export function tempName(base: string, suffix: 'incomplete' | 'tmp', owner = process.pid): string {
  return `${base}.${owner}-${crypto.randomBytes(4).toString('hex')}.${suffix}`;
}

const TEMP_RE = /^(.*)\.(\d+)-[0-9a-f]{8}\.(incomplete|tmp)$/;

function pidAlive(pid: number): boolean {
  if (pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}

/**
 * Temporary files in `dir` left by processes that no longer run (a run killed half-way):
 * `{ file, base }` where `base` is the name the file was to get.
 */
export function orphanedTemps(dir: string): Array<{ file: string; base: string }> {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: Array<{ file: string; base: string }> = [];
  for (const n of names) {
    const m = TEMP_RE.exec(n);
    if (m && !pidAlive(Number(m[2]))) out.push({ file: path.join(dir, n), base: m[1] });
  }
  return out;
}

/** Free bytes for an unprivileged writer on the disk holding `dir` (or its nearest existing parent). */
export function freeBytes(dir: string): number | null {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    try {
      const s = fs.statfsSync(d);
      return s.bavail * s.bsize;
    } catch {
      if (path.dirname(d) === d) return null;
    }
  }
}

/** Which hash an ETag is: the sha256 of an LFS file, the git blob sha1 of a small file, or neither. */
export function etagKind(etag: string): 'sha256' | 'git-sha1' | null {
  if (/^[0-9a-f]{64}$/.test(etag)) return 'sha256';
  if (COMMIT_RE.test(etag)) return 'git-sha1';
  return null;
}

/** The ETag of an ETag header: without the weak prefix and the quotes (as huggingface_hub normalises it). */
export function normalizeEtag(etag: string | null | undefined): string | null {
  if (!etag) return null;
  return etag.replace(/^W\//, '').replace(/^"|"$/g, '');
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

type Crc32Fn = (data: Uint8Array, value?: number) => number;
// zlib.crc32 exists from Node 20.15 / 22.2; the table version is the fallback.
const nativeCrc32 = (zlib as unknown as { crc32?: Crc32Fn }).crc32;

function crc32(data: Uint8Array, value: number): number {
  if (nativeCrc32) return nativeCrc32(data, value);
  let c = ~value >>> 0;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * The digests of a file's content computed while it streams by: sha256 (LFS ETag), the git blob sha1
 * (small-file ETag; needs the size up front) and the zip CRC-32.
 */
export class ContentHasher {
  private readonly sha256 = crypto.createHash('sha256');
  private readonly sha1: crypto.Hash | null;
  private result: { sha256: string; gitSha1: string | null; crc32: number; bytes: number } | null = null;
  /** CRC-32 of the bytes so far. */
  crc32 = 0;
  bytes = 0;

  constructor(gitSize?: number) {
    this.sha1 = gitSize === undefined ? null : crypto.createHash('sha1').update(`blob ${gitSize}\0`);
  }

  update(chunk: Uint8Array): void {
    this.sha256.update(chunk);
    this.sha1?.update(chunk);
    this.crc32 = crc32(chunk, this.crc32);
    this.bytes += chunk.length;
  }

  /** The final digests (the hashes are finalised on the first call; later calls return the same). */
  digest(): { sha256: string; gitSha1: string | null; crc32: number; bytes: number } {
    this.result ??= { sha256: this.sha256.digest('hex'), gitSha1: this.sha1 ? this.sha1.digest('hex') : null, crc32: this.crc32, bytes: this.bytes };
    return this.result;
  }
}

/** The git blob sha1 of a file's bytes (the ETag the Hub gives a small, non-LFS file). */
export function gitBlobSha1(data: Uint8Array): string {
  return crypto.createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
}
