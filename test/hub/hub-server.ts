// A real HTTP server on 127.0.0.1 that answers like the Hugging Face Hub for the parts downloads use:
// HEAD/GET {id}/resolve/{revision}/{file} with X-Repo-Commit, ETag (git blob sha1) for small files,
// a 302 to a CDN host ("localhost", another host name for the same server) with X-Linked-Etag
// (sha256) and X-Linked-Size for LFS files, Range requests on the CDN, 401/403 for gated repos,
// 404 with X-Error-Code RepoNotFound / RevisionNotFound / EntryNotFound, a 307 for a renamed repo, and
// on demand a connection cut in the middle of a file or wrong bytes. Every request is logged.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { peerPython } from '../peer.js';

export interface HubRepo {
  id: string;
  commit: string;
  files: Record<string, Buffer>;
  /** Files stored in LFS (default: names ending in .safetensors or .bin, or ≥ 1 MB). */
  lfs?: (name: string, data: Buffer) => boolean;
  /** Gated: this token is required (none → 401, another → 403). */
  token?: string;
  /** An old id that redirects (307, relative Location) to this repo, as the Hub does for renamed repos. */
  renamedFrom?: string;
}

export interface LoggedRequest {
  method: string;
  path: string;
  host: string;
  range?: string;
  authorization?: string;
}

export const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
export const gitSha1 = (b: Buffer) => crypto.createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

const defaultLfs = (name: string, data: Buffer) => /\.(safetensors|bin|gguf)$/.test(name) || data.length >= 1e6;

export class HubServer {
  readonly requests: LoggedRequest[] = [];
  /** sha256s of LFS files whose next GET is cut after half of the body. */
  readonly cutNext = new Set<string>();
  /** sha256s of LFS files served with wrong bytes (same length). */
  readonly corrupt = new Set<string>();
  private server: http.Server | null = null;
  private port = 0;
  private readonly blobs = new Map<string, Buffer>();

  constructor(private readonly repos: HubRepo[]) {
    for (const r of repos) for (const data of Object.values(r.files)) this.blobs.set(sha256(data), data);
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server!.address() as AddressInfo).port;
    return this.endpoint;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    this.requests.push({
      method: req.method ?? '',
      path: decodeURIComponent(url.pathname),
      host: req.headers.host ?? '',
      range: req.headers.range,
      authorization: req.headers.authorization,
    });
    const head = req.method === 'HEAD';
    const parts = url.pathname.split('/').slice(1).map(decodeURIComponent);
    if (parts[0] === 'cdn') return this.cdn(parts[1], req, res, head);
    const at = parts.indexOf('resolve');
    if (at < 1 || parts.length < at + 3) return this.end(res, 404, {}, head);
    const id = parts.slice(0, at).join('/');
    const revision = parts[at + 1];
    const file = parts.slice(at + 2).join('/');
    const renamed = this.repos.find((r) => r.renamedFrom === id);
    if (renamed) {
      return this.end(res, 307, { location: `/${renamed.id}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}` }, head);
    }
    const repo = this.repos.find((r) => r.id === id);
    const auth = req.headers.authorization;
    if (!repo) {
      // The Hub hides whether a repo exists from anonymous callers: 401; with a token, 404.
      return this.end(res, auth ? 404 : 401, { 'x-error-code': 'RepoNotFound', 'x-error-message': 'Repository not found' }, head);
    }
    if (repo.token) {
      if (!auth) return this.end(res, 401, { 'x-error-message': `Access to model ${id} is restricted. You must be authenticated to access it.` }, head);
      if (auth !== `Bearer ${repo.token}`) return this.end(res, 403, { 'x-error-code': 'GatedRepo', 'x-error-message': `Access to model ${id} is restricted and you are not in the authorized list.` }, head);
    }
    if (revision !== 'main' && revision !== repo.commit) {
      return this.end(res, 404, { 'x-error-code': 'RevisionNotFound', 'x-error-message': 'Invalid rev id: ' + revision }, head);
    }
    const data = repo.files[file];
    if (!data) {
      return this.end(res, 404, { 'x-error-code': 'EntryNotFound', 'x-error-message': 'Entry not found', 'x-repo-commit': repo.commit }, head);
    }
    if ((repo.lfs ?? defaultLfs)(file, data)) {
      const pointer = Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(data)}\nsize ${data.length}\n`);
      return this.end(
        res,
        302,
        {
          location: `http://localhost:${this.port}/cdn/${sha256(data)}?sig=x`,
          'x-repo-commit': repo.commit,
          'x-linked-etag': `"${sha256(data)}"`,
          'x-linked-size': String(data.length),
          etag: `W/"${gitSha1(pointer)}"`,
        },
        head,
      );
    }
    res.writeHead(200, { 'x-repo-commit': repo.commit, etag: `"${gitSha1(data)}"`, 'content-length': data.length, 'content-type': 'application/octet-stream' });
    res.end(head ? undefined : data);
  }

  private cdn(sha: string, req: http.IncomingMessage, res: http.ServerResponse, head: boolean): void {
    let data = this.blobs.get(sha);
    if (!data) return this.end(res, 404, {}, head);
    if (this.corrupt.has(sha)) data = Buffer.from(data.map((b) => b ^ 1));
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const from = m ? Number(m[1]) : 0;
    if (from > data.length) return this.end(res, 416, { 'content-range': `bytes */${data.length}` }, head);
    const body = data.subarray(from);
    const headers: http.OutgoingHttpHeaders = { etag: `"${sha}"`, 'content-length': body.length, 'accept-ranges': 'bytes', 'content-disposition': `inline; filename="${sha}";` };
    if (m) headers['content-range'] = `bytes ${from}-${data.length - 1}/${data.length}`;
    res.writeHead(m ? 206 : 200, headers);
    if (head) return void res.end();
    if (this.cutNext.has(sha)) {
      this.cutNext.delete(sha);
      // Half of the body, then the connection drops (a network failure mid-file).
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    res.end(body);
  }

  private end(res: http.ServerResponse, status: number, headers: http.OutgoingHttpHeaders, _head: boolean): void {
    res.writeHead(status, headers);
    res.end();
  }
}

/**
 * Runs Python in the peer venv without blocking the event loop (the local Hub server in this
 * process must answer it). Returns stdout; rejects with stderr.
 */
export function runPeerAsync(code: string, env: Record<string, string | undefined> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(peerPython(), ['-c', code], {
      env: { ...process.env, OMP_NUM_THREADS: '2', TRANSFORMERS_VERBOSITY: 'error', HF_HUB_DISABLE_TELEMETRY: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (err += b));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`peer python failed (${code}): ${err}`))));
  });
}
