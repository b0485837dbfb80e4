// Hub downloads against a real local HTTP server that speaks the Hub's URL layout and headers:
// cache layout, no network on a cache hit, redirects, 401/403/404, a cut connection resumed with
// Range (in the same run and by a later run), checksum failures, offline mode.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { hubDownload, resolvePretrained } from '../../src/hub/index.js';
import { tmpDir } from '../helpers.js';
import { gitSha1, HubServer, sha256, type HubRepo } from './hub-server.js';
import { rejection, tree } from './util.js';

const COMMIT = 'a'.repeat(39) + '1';
const WEIGHTS = crypto.randomBytes(3_000_000 + 17);
const REPO: HubRepo = {
  id: 'acme/tiny-bert',
  commit: COMMIT,
  renamedFrom: 'acme/old-name',
  files: {
    'config.json': Buffer.from('{"model_type": "bert"}\n'),
    'model.safetensors': WEIGHTS,
    '1_Pooling/config.json': Buffer.from('{"pooling_mode_mean_tokens": true}\n'),
  },
};
const GATED: HubRepo = { id: 'acme/gated', commit: 'b'.repeat(40), token: 'hf_right', files: { 'config.json': Buffer.from('{}') } };

describe('hub: downloads from a local Hub server', function () {
  let server: HubServer;
  let endpoint: string;
  const saved = { ...process.env };

  before(async () => {
    server = new HubServer([REPO, GATED]);
    endpoint = await server.start();
    delete process.env.HF_HUB_OFFLINE;
    delete process.env.HF_TOKEN;
  });
  after(async () => {
    process.env = saved;
    await server.close();
  });

  it('downloads into the HF cache layout (blobs by ETag, relative snapshot links, refs/main), then reads the cache with no request', async () => {
    const cacheDir = tmpDir();
    const dir = await resolvePretrained(REPO.id, { files: ['config.json', 'model.safetensors'], optionalFiles: ['1_Pooling/config.json', 'tokenizer.json'], cacheDir, endpoint, progress: false });
    const storage = path.join(cacheDir, 'models--acme--tiny-bert');
    expect(dir).to.equal(path.join(storage, 'snapshots', COMMIT));
    const files = REPO.files;
    expect(tree(storage)).to.deep.equal(
      [
        '.no_exist/',
        `.no_exist/${COMMIT}/`,
        `.no_exist/${COMMIT}/tokenizer.json`,
        'blobs/',
        `blobs/${gitSha1(files['1_Pooling/config.json'])}`,
        `blobs/${gitSha1(files['config.json'])}`,
        `blobs/${sha256(WEIGHTS)}`,
        'refs/',
        'refs/main',
        'snapshots/',
        `snapshots/${COMMIT}/`,
        `snapshots/${COMMIT}/1_Pooling/`,
        `snapshots/${COMMIT}/1_Pooling/config.json -> ../../../blobs/${gitSha1(files['1_Pooling/config.json'])}`,
        `snapshots/${COMMIT}/config.json -> ../../blobs/${gitSha1(files['config.json'])}`,
        `snapshots/${COMMIT}/model.safetensors -> ../../blobs/${sha256(WEIGHTS)}`,
      ].sort(),
    );
    expect(fs.readFileSync(path.join(storage, 'refs', 'main'), 'utf8')).to.equal(COMMIT);
    expect(fs.readFileSync(path.join(dir, 'model.safetensors')).equals(WEIGHTS)).to.equal(true);
    // The LFS file came from the CDN host, without the token-bearing Hub host's redirect being followed on HEAD.
    const cdn = server.requests.filter((r) => r.path.startsWith('/cdn/'));
    expect(cdn.map((r) => `${r.method} ${r.host.split(':')[0]}`)).to.deep.equal(['GET localhost']);
    const n = server.requests.length;
    const again = await resolvePretrained(REPO.id, { files: ['config.json', 'model.safetensors'], optionalFiles: ['tokenizer.json'], cacheDir, endpoint });
    expect(again).to.equal(dir);
    expect(server.requests.length, 'requests on a cache hit').to.equal(n);
  });

  it('follows a 307 of a renamed repo to the new path', async () => {
    const cacheDir = tmpDir();
    const p = await hubDownload('acme/old-name', 'config.json', { cacheDir, endpoint, progress: false });
    expect(fs.readFileSync(p, 'utf8')).to.equal('{"model_type": "bert"}\n');
    expect(p).to.contain(path.join('models--acme--old-name', 'snapshots', COMMIT));
    expect(server.requests.some((r) => r.path === '/acme/tiny-bert/resolve/main/config.json')).to.equal(true);
  });

  it('401 without a token and 403 with a wrong one name the id and the file; the right token (HF_TOKEN) works and is never sent to the CDN', async () => {
    const cacheDir = tmpDir();
    const e401 = await rejection(hubDownload(GATED.id, 'config.json', { cacheDir, endpoint, token: false }));
    expect(e401.code).to.equal('UNAUTHORIZED');
    expect(e401.message).to.contain('acme/gated').and.contain('config.json').and.contain('401').and.contain('HF_TOKEN');
    const e403 = await rejection(hubDownload(GATED.id, 'config.json', { cacheDir, endpoint, token: 'hf_wrong' }));
    expect(e403.code).to.equal('FORBIDDEN');
    expect(e403.message).to.contain('acme/gated').and.contain('config.json').and.contain('gated');
    process.env.HF_TOKEN = 'hf_right';
    try {
      expect(fs.readFileSync(await hubDownload(GATED.id, 'config.json', { cacheDir, endpoint }), 'utf8')).to.equal('{}');
      server.requests.length = 0;
      await hubDownload(REPO.id, 'model.safetensors', { cacheDir, endpoint, progress: false });
      expect(server.requests.filter((r) => !r.path.startsWith('/cdn/')).every((r) => r.authorization === 'Bearer hf_right')).to.equal(true);
      expect(server.requests.filter((r) => r.path.startsWith('/cdn/')).map((r) => r.authorization)).to.deep.equal([undefined]);
    } finally {
      delete process.env.HF_TOKEN;
    }
    expect(fs.readdirSync(path.join(cacheDir, 'models--acme--gated', 'blobs'))).to.have.length(1);
  });

  it('404s name the id, the revision or the file', async () => {
    const cacheDir = tmpDir();
    const noRepo = await rejection(hubDownload('acme/nope', 'config.json', { cacheDir, endpoint, token: 'hf_any' }));
    expect([noRepo.code, noRepo.message]).to.satisfy(([c, m]: string[]) => c === 'NOT_FOUND' && m.includes("repository 'acme/nope' does not exist") && m.includes('config.json'));
    const noRev = await rejection(hubDownload(REPO.id, 'config.json', { cacheDir, endpoint, revision: 'v9' }));
    expect(noRev.code).to.equal('NOT_FOUND');
    expect(noRev.message).to.contain("revision 'v9' does not exist").and.contain(REPO.id);
    const noFile = await rejection(resolvePretrained(REPO.id, { files: ['config.json', 'pytorch_model.bin'], cacheDir, endpoint }));
    expect(noFile.code).to.equal('NOT_FOUND');
    expect(noFile.message).to.contain("file 'pytorch_model.bin' does not exist").and.contain(REPO.id);
    // Its absence is remembered as huggingface_hub does.
    expect(fs.existsSync(path.join(cacheDir, 'models--acme--tiny-bert', '.no_exist', COMMIT, 'pytorch_model.bin'))).to.equal(true);
    // Anonymous callers get the Hub's 401 for a repo that does not exist.
    expect((await rejection(hubDownload('acme/nope', 'config.json', { cacheDir, endpoint, token: false }))).code).to.equal('UNAUTHORIZED');
  });

  it('resumes a connection cut mid-file with a Range request and verifies the sha256', async () => {
    const cacheDir = tmpDir();
    server.requests.length = 0;
    server.cutNext.add(sha256(WEIGHTS));
    // With its progress bar (on stderr; a line per redraw when not a TTY).
    const printed: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string | Uint8Array) => (printed.push(String(chunk)), true)) as typeof process.stderr.write;
    let p: string;
    try {
      p = await hubDownload(REPO.id, 'model.safetensors', { cacheDir, endpoint });
    } finally {
      process.stderr.write = write;
    }
    expect(printed.join('')).to.match(/acme\/tiny-bert\/model\.safetensors \[#{24}\] 4\/4 /);
    expect(fs.readFileSync(p).equals(WEIGHTS)).to.equal(true);
    const gets = server.requests.filter((r) => r.path.startsWith('/cdn/'));
    expect(gets).to.have.length(2);
    expect(gets[0].range).to.equal(undefined);
    expect(gets[1].range).to.match(/^bytes=\d+-$/);
    const from = Number(/\d+/.exec(gets[1].range!)![0]);
    expect(from).to.be.greaterThan(0).and.lessThan(WEIGHTS.length);
    expect(fs.readdirSync(path.join(cacheDir, 'models--acme--tiny-bert', 'blobs'))).to.deep.equal([sha256(WEIGHTS)]);
  });

  it('continues the partial file of an earlier, killed run (Range from its size)', async () => {
    const cacheDir = tmpDir();
    const blobs = path.join(cacheDir, 'models--acme--tiny-bert', 'blobs');
    fs.mkdirSync(blobs, { recursive: true });
    // What a killed run leaves: <etag>.<pid of a process that is gone>-<rand>.incomplete
    const { spawnSync } = await import('node:child_process');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    const partial = path.join(blobs, `${sha256(WEIGHTS)}.${dead}-0badc0de.incomplete`);
    fs.writeFileSync(partial, WEIGHTS.subarray(0, 1_234_567));
    server.requests.length = 0;
    const p = await hubDownload(REPO.id, 'model.safetensors', { cacheDir, endpoint, progress: false });
    expect(fs.readFileSync(p).equals(WEIGHTS)).to.equal(true);
    expect(server.requests.filter((r) => r.path.startsWith('/cdn/')).map((r) => r.range)).to.deep.equal(['bytes=1234567-']);
    expect(fs.readdirSync(blobs)).to.deep.equal([sha256(WEIGHTS)]);
  });

  it('rejects bytes that do not match the ETag, and leaves no blob and no temporary file', async () => {
    const cacheDir = tmpDir();
    server.corrupt.add(sha256(WEIGHTS));
    try {
      const e = await rejection(hubDownload(REPO.id, 'model.safetensors', { cacheDir, endpoint, progress: false }));
      expect(e.code).to.equal('CHECKSUM');
      expect(e.message).to.contain('acme/tiny-bert/model.safetensors').and.contain(sha256(WEIGHTS));
    } finally {
      server.corrupt.clear();
    }
    const storage = path.join(cacheDir, 'models--acme--tiny-bert');
    expect(tree(storage).filter((p) => !p.endsWith('/'))).to.deep.equal(['refs/main']);
  });

  it('offline (HF_HUB_OFFLINE=1, localFilesOnly): a cache hit works, a miss names the file; no request is made', async () => {
    const cacheDir = tmpDir();
    await resolvePretrained(REPO.id, { files: ['config.json'], cacheDir, endpoint });
    const n = server.requests.length;
    process.env.HF_HUB_OFFLINE = '1';
    try {
      expect(await resolvePretrained(REPO.id, { files: ['config.json'], cacheDir, endpoint })).to.contain(COMMIT);
      const e = await rejection(resolvePretrained(REPO.id, { files: ['config.json', 'model.safetensors'], cacheDir, endpoint }));
      expect(e.code).to.equal('OFFLINE_MISS');
      expect(e.message).to.contain('HF_HUB_OFFLINE').and.contain('model.safetensors').and.contain(REPO.id);
    } finally {
      delete process.env.HF_HUB_OFFLINE;
    }
    const e = await rejection(hubDownload(REPO.id, 'tokenizer.json', { cacheDir, endpoint, localFilesOnly: true }));
    expect(e.message).to.contain('localFilesOnly').and.contain('tokenizer.json');
    expect(server.requests.length).to.equal(n);
  });

  it('an unreachable endpoint is a clear error for an id without a wheel; a bad id or path is an input error', async () => {
    const cacheDir = tmpDir();
    const t0 = Date.now();
    const e = await rejection(resolvePretrained(REPO.id, { files: ['config.json'], cacheDir, endpoint: 'http://127.0.0.1:9' }));
    expect(e.code).to.equal('UNREACHABLE');
    expect(e.message).to.contain('127.0.0.1:9').and.contain('config.json').and.contain(REPO.id);
    expect(Date.now() - t0).to.be.lessThan(5000);
    for (const bad of ['./no/such/folder', 'a/b/c', 'bad id!']) {
      try {
        await resolvePretrained(bad, { files: ['config.json'], cacheDir, endpoint });
        expect.fail('resolved');
      } catch (err) {
        expect((err as Error).name).to.equal('InputError');
        expect((err as Error).message).to.contain(bad).and.contain('not a Hugging Face Hub id');
      }
    }
  });
});
