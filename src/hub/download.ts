// One file from the Hugging Face Hub into the shared HF cache, as huggingface_hub's hf_hub_download
// does it: a HEAD on {endpoint}/{id}/resolve/{revision}/{file} (redirects on the same host followed,
// a redirect to another host — the CDN of LFS files — not: its headers carry the metadata), then
// X-Repo-Commit, X-Linked-Etag or ETag, X-Linked-Size; a GET of the file (redirects followed, the
// token not sent to another host) streamed into blobs/<etag>.<pid>-<rand>.incomplete; a cut
// connection resumed with a Range request; the size and the ETag (sha256 of LFS files, git blob sha1
// of small ones) verified; the blob and the snapshot link made by atomic renames.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { ContentHasher, COMMIT_RE, etagKind, normalizeEtag, orphanedTemps, RepoCache, tempName } from './cache.js';
import { errnoCode, HubError, writeError } from './errors.js';
import { ByteProgress } from './progress.js';

export interface HubOptions {
  /** Branch, tag or commit (default `main`). */
  revision?: string;
  /** HF hub cache folder (default: HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub). */
  cacheDir?: string;
  /** Use the cache only, never the network (as HF_HUB_OFFLINE=1 does). */
  localFilesOnly?: boolean;
  /** Access token (default: HF_TOKEN, else the token file of `hf auth login`); false sends none. */
  token?: string | false;
  /** Hub endpoint (default: HF_ENDPOINT, else https://huggingface.co). */
  endpoint?: string;
  /** Progress bars on stderr for downloads (default true). */
  progress?: boolean;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET']);

function isTrue(v: string | undefined): boolean {
  return !!v && ['1', 'ON', 'YES', 'TRUE'].includes(v.toUpperCase());
}

/** HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set. */
export function hubOffline(): boolean {
  return isTrue(process.env.HF_HUB_OFFLINE) || isTrue(process.env.TRANSFORMERS_OFFLINE);
}

export function hubEndpoint(opts: HubOptions = {}): string {
  return (opts.endpoint ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
}

/** The token to send: the option, else HF_TOKEN (or HUGGING_FACE_HUB_TOKEN), else the saved token file. */
export function hubToken(opts: HubOptions = {}): string | null {
  if (opts.token === false) return null;
  if (opts.token) return opts.token;
  const env = process.env.HF_TOKEN || process.env.HUGGING_FACE_HUB_TOKEN;
  if (env) return env.trim();
  const home = process.env.HF_HOME ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'huggingface');
  try {
    return fs.readFileSync(process.env.HF_TOKEN_PATH ?? path.join(home, 'token'), 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/** `{endpoint}/{id}/resolve/{revision}/{file}`, quoted as huggingface_hub quotes it. */
export function hubFileUrl(id: string, file: string, revision: string, endpoint: string): string {
  return `${endpoint}/${id}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

const USER_AGENT = `rankdistill/0.1.0; node/${process.versions.node}`;
const TIMEOUT_MS = Number(process.env.HF_HUB_DOWNLOAD_TIMEOUT ?? 10) * 1000;

function send(method: 'HEAD' | 'GET', url: URL, headers: Record<string, string>): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : null;
    if (!mod) return reject(new HubError('BAD_RESPONSE', `unsupported URL scheme in ${url.href}`));
    const req = mod.request(url, { method, headers: { 'user-agent': USER_AGENT, 'accept-encoding': 'identity', ...headers } }, resolve);
    req.setTimeout(TIMEOUT_MS, () => req.destroy(Object.assign(new Error(`no answer from ${url.host} in ${TIMEOUT_MS / 1000} s`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end();
  });
}

function header(res: http.IncomingMessage, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

interface FileMetadata {
  commit: string;
  etag: string;
  size: number | null;
  /** Where to GET the bytes (the redirect target of an LFS file). */
  location: URL;
}

/** A 4xx/5xx answer as a HubError naming the id, the file and the revision. */
function statusError(res: http.IncomingMessage, id: string, file: string, revision: string, hasToken: boolean): HubError {
  const code = header(res, 'x-error-code');
  const msg = header(res, 'x-error-message');
  const what = `${id}, file ${file}, revision ${revision}`;
  const said = msg ? ` (the Hub says: ${msg})` : '';
  const s = res.statusCode ?? 0;
  if (s === 401) {
    return new HubError(
      'UNAUTHORIZED',
      `401 Unauthorized for ${what}${said}: the repository is private or gated, or does not exist, and ${hasToken ? 'the token was not accepted' : 'no token was sent'}; check the id, and set HF_TOKEN (or pass { token }) to a token with access`,
    );
  }
  if (s === 403 || code === 'GatedRepo') {
    return new HubError('FORBIDDEN', `${s} Forbidden for ${what}${said}: the repository is gated or your token lacks access; accept its conditions on its Hub page, and use a token with read access`);
  }
  if (s === 404) {
    const kind = code === 'RevisionNotFound' ? `revision '${revision}' does not exist` : code === 'EntryNotFound' ? `file '${file}' does not exist at that revision` : code === 'RepoNotFound' ? `repository '${id}' does not exist` : 'not found (wrong id, revision or file name)';
    return new HubError('NOT_FOUND', `404 for ${what}: ${kind}${said}`);
  }
  if (s >= 500) return new HubError('UNREACHABLE', `the Hub answered ${s} for ${what}${said}`);
  return new HubError('BAD_RESPONSE', `unexpected HTTP ${s} for ${what}${said}`);
}

function networkError(e: unknown, url: URL, id: string, file: string): unknown {
  const code = errnoCode(e);
  if (code && NETWORK_CODES.has(code)) {
    return new HubError('UNREACHABLE', `cannot reach ${url.origin} for ${id}, file ${file} (${code}: ${(e as Error).message})`, { cause: e });
  }
  return e;
}

/** HEAD, as get_hf_file_metadata: same-host redirects followed, a cross-host one stopped at. */
async function fileMetadata(cache: RepoCache, file: string, revision: string, endpoint: string, auth: Record<string, string>): Promise<FileMetadata> {
  let url = new URL(hubFileUrl(cache.id, file, revision, endpoint));
  for (let hop = 0; hop < 10; hop++) {
    let res: http.IncomingMessage;
    try {
      res = await send('HEAD', url, auth);
    } catch (e) {
      throw networkError(e, url, cache.id, file);
    }
    res.resume();
    const s = res.statusCode ?? 0;
    const loc = header(res, 'location');
    const redirect = REDIRECTS.has(s) && !!loc;
    if (!redirect && s >= 400) {
      const err = statusError(res, cache.id, file, revision, !!auth.authorization);
      const commit = header(res, 'x-repo-commit');
      // Remember the absence at that commit, as huggingface_hub does (.no_exist/).
      if (err.code === 'NOT_FOUND' && header(res, 'x-error-code') === 'EntryNotFound' && commit && COMMIT_RE.test(commit)) {
        cache.markAbsent(commit, file);
        try {
          cache.writeRef(revision, commit);
        } catch {
          // best effort
        }
      }
      throw err;
    }
    if (redirect) {
      const target = new URL(loc!, url);
      if (target.host === url.host) {
        url = target;
        continue;
      }
    }
    const commit = header(res, 'x-repo-commit');
    const etag = normalizeEtag(header(res, 'x-linked-etag') ?? header(res, 'etag'));
    if (!commit || !COMMIT_RE.test(commit)) {
      throw new HubError('BAD_RESPONSE', `${url.origin} answered for ${cache.id}, file ${file} without an X-Repo-Commit header: it does not look like a Hugging Face Hub endpoint (check HF_ENDPOINT)`);
    }
    if (!etag) throw new HubError('BAD_RESPONSE', `${url.origin} gave no ETag for ${cache.id}, file ${file}: the download could not be verified`);
    const sizeText = header(res, 'x-linked-size') ?? (redirect ? undefined : header(res, 'content-length'));
    const size = sizeText !== undefined && /^\d+$/.test(sizeText) ? Number(sizeText) : null;
    return { commit, etag, size, location: redirect ? new URL(loc!, url) : url };
  }
  throw new HubError('BAD_RESPONSE', `too many redirects for ${cache.id}, file ${file}`);
}

/** GET with redirects followed; the token goes only to the endpoint's host. */
async function openDownload(meta: FileMetadata, endpointHost: string, auth: Record<string, string>, from: number, what: string): Promise<http.IncomingMessage> {
  let url = meta.location;
  for (let hop = 0; hop < 10; hop++) {
    const headers: Record<string, string> = url.host === endpointHost ? { ...auth } : {};
    if (from > 0) headers.range = `bytes=${from}-`;
    const res = await send('GET', url, headers);
    const s = res.statusCode ?? 0;
    const loc = header(res, 'location');
    if (REDIRECTS.has(s) && loc) {
      res.resume();
      url = new URL(loc, url);
      continue;
    }
    if (s === 200 || s === 206 || s === 416) return res;
    res.resume();
    throw new HubError(s >= 500 ? 'UNREACHABLE' : 'BAD_RESPONSE', `HTTP ${s} while downloading ${what} from ${url.origin}`);
  }
  throw new HubError('BAD_RESPONSE', `too many redirects while downloading ${what}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Streams the file into `tmp` (appending to what it holds), resuming with Range after a cut
 * connection (up to 5 tries in a row without progress, as huggingface_hub), and checks size and ETag.
 */
async function downloadTo(tmp: string, meta: FileMetadata, endpointHost: string, auth: Record<string, string>, what: string, opts: HubOptions, root: string): Promise<void> {
  const kind = etagKind(meta.etag);
  const hasherFor = (size: number | null) => new ContentHasher(kind === 'git-sha1' && size !== null ? size : undefined);
  let have = fs.existsSync(tmp) ? fs.statSync(tmp).size : 0;
  if (meta.size !== null && have > meta.size) {
    fs.truncateSync(tmp, 0);
    have = 0;
  }
  let hasher = hasherFor(meta.size);
  if (have > 0) for await (const c of fs.createReadStream(tmp)) hasher.update(c as Buffer);
  const progress = new ByteProgress(what, meta.size, !(opts.progress ?? true), have);
  let triesLeft = 5;
  for (;;) {
    let res: http.IncomingMessage;
    try {
      res = await openDownload(meta, endpointHost, auth, have, what);
    } catch (e) {
      const err = networkError(e, meta.location, what, '');
      if (err instanceof HubError && err.code === 'UNREACHABLE' && triesLeft-- > 0) {
        await sleep(250);
        continue;
      }
      throw err;
    }
    const s = res.statusCode ?? 0;
    if (s === 416) {
      res.resume();
      if (meta.size !== null && have === meta.size) break;
      // Our partial file does not fit the server's file: start over.
      fs.truncateSync(tmp, 0);
      have = 0;
      hasher = hasherFor(meta.size);
      continue;
    }
    const range = header(res, 'content-range');
    if (have > 0 && (s === 200 || !range || !range.startsWith(`bytes ${have}-`))) {
      // The server ignored the Range (or answered another one): start over.
      fs.truncateSync(tmp, 0);
      have = 0;
      hasher = hasherFor(meta.size);
      progress.reset();
      if (s !== 200) {
        res.resume();
        continue;
      }
    }
    if (meta.size === null) {
      const total = range ? Number(range.split('/')[1]) : Number(header(res, 'content-length'));
      if (Number.isFinite(total)) {
        meta.size = total;
        progress.setTotal(total);
        if (kind === 'git-sha1' && have === 0) hasher = hasherFor(total);
      }
    }
    const fh = await fs.promises.open(tmp, 'a').catch((e) => {
      throw writeError(e, tmp, root);
    });
    let cut: unknown = null;
    try {
      for await (const chunk of res) {
        const b = chunk as Buffer;
        try {
          await fh.write(b);
        } catch (e) {
          res.destroy();
          throw writeError(e, tmp, root);
        }
        hasher.update(b);
        have += b.length;
        progress.add(b.length);
        triesLeft = 5;
      }
      if (!res.complete) cut = new Error('connection closed before the end of the file');
    } catch (e) {
      if (e instanceof HubError) throw e;
      cut = e;
    } finally {
      await fh.close();
    }
    if (cut === null && (meta.size === null || have >= meta.size)) break;
    if (cut === null) cut = new Error(`the server sent ${have} of ${meta.size} bytes`);
    if (triesLeft-- <= 0) {
      throw new HubError('UNREACHABLE', `download of ${what} failed after retries at byte ${have} of ${meta.size ?? '?'} (${(cut as Error).message}); run again to resume`, { cause: cut });
    }
    await sleep(250);
  }
  progress.finish();
  const d = hasher.digest();
  if (meta.size !== null && d.bytes !== meta.size) {
    throw new HubError('CHECKSUM', `size mismatch for ${what}: got ${d.bytes} bytes, the server stated ${meta.size}`);
  }
  const got = kind === 'sha256' ? d.sha256 : kind === 'git-sha1' ? d.gitSha1 : null;
  if (kind && got !== meta.etag) {
    throw new HubError('CHECKSUM', `checksum mismatch for ${what}: ${kind} ${got}, the server's ETag says ${meta.etag}; the partial file was deleted`);
  }
}

/**
 * The local path of `file` of the Hub model `id` (a snapshot entry of the HF cache), downloaded when
 * missing; the Python `hf_hub_download(id, file, revision=…, cache_dir=…)`.
 */
export async function hubDownload(id: string, file: string, opts: HubOptions = {}): Promise<string> {
  const cache = new RepoCache(id, opts.cacheDir);
  const revision = opts.revision ?? 'main';
  if (COMMIT_RE.test(revision)) {
    const hit = cache.cachedFile(revision, file);
    if (hit) return hit;
  }
  if (opts.localFilesOnly || hubOffline()) {
    const commit = cache.commitOf(revision);
    const hit = commit ? cache.cachedFile(commit, file) : null;
    if (hit) return hit;
    const why = opts.localFilesOnly ? 'localFilesOnly is set' : 'HF_HUB_OFFLINE is set';
    throw new HubError('OFFLINE_MISS', `${why} and ${file} of ${id} (revision ${revision}) is not in the cache ${cache.root}${commit ? '' : ` (no snapshot for '${revision}')`}`);
  }
  const endpoint = hubEndpoint(opts);
  const token = hubToken(opts);
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const meta = await fileMetadata(cache, file, revision, endpoint, auth);
  const pointer = cache.pointerPath(meta.commit, file);
  const what = `${id}/${file}`;
  try {
    if (fs.existsSync(pointer)) {
      try {
        cache.writeRef(revision, meta.commit);
      } catch {
        // A read-only cache holding the file is still usable.
      }
      return pointer;
    }
    fs.mkdirSync(cache.blobs, { recursive: true });
    cache.writeRef(revision, meta.commit);
    const blob = cache.blobPath(meta.etag);
    if (!fs.existsSync(blob)) {
      const tmp = tempName(blob, 'incomplete');
      // A download of the same blob cut by a killed run: continue it instead of starting over.
      const orphans = orphanedTemps(cache.blobs).filter((o) => o.base === blob).sort((a, b) => fs.statSync(b.file).size - fs.statSync(a.file).size);
      for (const [i, o] of orphans.entries()) {
        try {
          if (i === 0) fs.renameSync(o.file, tmp);
          else fs.rmSync(o.file, { force: true });
        } catch {
          // taken by another process meanwhile
        }
      }
      try {
        await downloadTo(tmp, meta, new URL(endpoint).host, auth, what, opts, cache.root);
        cache.installBlob(tmp, meta.etag);
      } catch (e) {
        // A network failure keeps the partial file for the next run to resume; anything else removes it.
        if (!(e instanceof HubError && e.code === 'UNREACHABLE')) fs.rmSync(tmp, { force: true });
        else if (fs.existsSync(tmp)) fs.renameSync(tmp, tempName(blob, 'incomplete', 0));
        throw e;
      }
    }
    return cache.linkSnapshot(meta.commit, file, meta.etag);
  } catch (e) {
    throw writeError(e, pointer, cache.root);
  }
}
