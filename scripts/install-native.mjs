#!/usr/bin/env node
// Postinstall step: make the native TensorFlow backend (@tensorflow/tfjs-node) available.
//
// Where the stock tfjs-node install works (its libtensorflow download succeeds), this does nothing.
// Where it fails (no route to the download host), npm drops the optional package; we then bring the
// package back with `npm pack`, and build its N-API binding against the TensorFlow C library shipped
// inside the `tensorflow-cpu` wheel from the Python package index. The built package is cached under
// `.cache/native/` (or $RANKDISTILL_CACHE_DIR/native), so a second install only copies it back.
// Every failure is reported once and the install still succeeds: the library then runs on wasm.
//
// Environment: RANKDISTILL_SKIP_NATIVE=1 skips this step; RANKDISTILL_CACHE_DIR moves the cache;
// RANKDISTILL_TF_WHEEL_VERSION overrides the wheel version (default 2.21.0).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TFJS_NODE_VERSION = '4.22.0';
const TF_VERSION = process.env.RANKDISTILL_TF_WHEEL_VERSION || '2.21.0';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cacheDir = path.resolve(process.env.RANKDISTILL_CACHE_DIR || path.join(root, '.cache'));
const buildDir = path.join(cacheDir, 'native', `tfjs-node-${TFJS_NODE_VERSION}-tf-${TF_VERSION}`);
const cachedPkg = path.join(buildDir, 'package');
const target = path.join(root, 'node_modules', '@tensorflow', 'tfjs-node');
const bindingRel = path.join('lib', 'napi-v8', 'tfjs_binding.node');
const t0 = Date.now();

const log = (msg) => console.log(`[rankdistill native] ${msg}`);
const secs = (t) => `${((Date.now() - t) / 1000).toFixed(1)} s`;

/** Env for child npm commands: drop the parent install's npm_* settings so they do not leak in. */
function cleanEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.toLowerCase().startsWith('npm_') || k.toLowerCase() === 'npm_config_cache') env[k] = v;
  }
  return env;
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) {
    const tail = `${r.stdout ?? ''}\n${r.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
    throw new Error(`${cmd} ${args.slice(0, 3).join(' ')} ... exited with ${r.status}:\n${tail}`);
  }
  return r.stdout;
}

/** Loads tfjs-node in a child process; returns its backend name or null. */
function probe() {
  const r = spawnSync(
    process.execPath,
    ['-e', "const tf=require('@tensorflow/tfjs-node');process.stdout.write(tf.getBackend()+' '+tf.version['tfjs-node'])"],
    { cwd: root, encoding: 'utf8', timeout: 120000 },
  );
  return r.status === 0 ? r.stdout.trim() : null;
}

function copyTree(src, dst) {
  fs.rmSync(dst, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(dst), { recursive: true });
  fs.cpSync(src, dst, { recursive: true, verbatimSymlinks: true });
}

function restoreFromCache() {
  copyTree(cachedPkg, target);
  return probe();
}

function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  for (const c of candidates) if (c && fs.existsSync(c)) return c;
  return null;
}

function build() {
  const py = ['python3', 'python'].find((p) => spawnSync(p, ['-m', 'pip', '--version']).status === 0);
  if (!py) throw new Error('python3 with pip is not available, so the TensorFlow wheel cannot be fetched');
  const nodeGyp = findNodeGyp();
  if (!nodeGyp) throw new Error('node-gyp (shipped with npm) was not found');

  fs.rmSync(buildDir, { recursive: true, force: true });
  fs.mkdirSync(buildDir, { recursive: true });

  let t = Date.now();
  const tgz = run('npm', ['pack', `@tensorflow/tfjs-node@${TFJS_NODE_VERSION}`, '--silent', '--pack-destination', buildDir], {
    cwd: buildDir, env: cleanEnv(),
  }).trim().split('\n').pop();
  run('tar', ['xzf', path.join(buildDir, tgz), '-C', buildDir]);
  // Its plain-JS dependencies go under the package; @tensorflow/* must resolve to the root copies
  // so that one tfjs-core instance is shared.
  const pj = JSON.parse(fs.readFileSync(path.join(cachedPkg, 'package.json'), 'utf8'));
  const deps = Object.entries(pj.dependencies ?? {})
    .filter(([name]) => !name.startsWith('@tensorflow/'))
    .map(([name, range]) => `${name}@${range}`);
  const depsDir = path.join(buildDir, 'deps-install');
  fs.mkdirSync(depsDir, { recursive: true });
  fs.writeFileSync(path.join(depsDir, 'package.json'), '{"name":"tfjs-node-deps","private":true}\n');
  run('npm', ['install', '--ignore-scripts', '--no-package-lock', '--no-audit', '--no-fund', '--omit=dev', ...deps], {
    cwd: depsDir, env: cleanEnv(),
  });
  fs.renameSync(path.join(depsDir, 'node_modules'), path.join(cachedPkg, 'node_modules'));
  fs.rmSync(depsDir, { recursive: true, force: true });
  log(`fetched @tensorflow/tfjs-node@${TFJS_NODE_VERSION} and its dependencies (${secs(t)})`);

  t = Date.now();
  const wheelDir = path.join(cacheDir, 'tf-wheel');
  fs.mkdirSync(wheelDir, { recursive: true });
  const findWheel = () => fs.readdirSync(wheelDir).find((f) => f.startsWith(`tensorflow_cpu-${TF_VERSION}-`) && f.endsWith('.whl'));
  if (!findWheel()) {
    run(py, ['-m', 'pip', 'download', `tensorflow-cpu==${TF_VERSION}`, '--no-deps', '--retries', '1', '-d', wheelDir]);
  }
  const wheel = path.join(wheelDir, findWheel());
  const libDir = path.join(cachedPkg, 'deps', 'lib');
  const incDir = path.join(cachedPkg, 'deps', 'include');
  // The wheel is a zip; python's zipfile avoids depending on `unzip`.
  run(py, ['-c', `
import sys, zipfile, os, shutil
whl, lib, inc = sys.argv[1:4]
os.makedirs(lib, exist_ok=True); os.makedirs(inc, exist_ok=True)
z = zipfile.ZipFile(whl)
for info in z.infolist():
    n = info.filename
    if n.endswith('/'):
        continue
    if n == 'tensorflow/libtensorflow_cc.so.2':
        dst = os.path.join(lib, 'libtensorflow.so.2')
    elif n == 'tensorflow/libtensorflow_framework.so.2':
        dst = os.path.join(lib, 'libtensorflow_framework.so.2')
    elif n.startswith('tensorflow/include/'):
        dst = os.path.join(inc, n[len('tensorflow/include/'):])
    else:
        continue
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with z.open(info) as s, open(dst, 'wb') as d:
        shutil.copyfileobj(s, d, 1 << 20)
`, wheel, libDir, incDir]);
  for (const [link, to] of [
    ['libtensorflow.so', 'libtensorflow.so.2'],
    ['libtensorflow_cc.so.2', 'libtensorflow.so.2'],
    ['libtensorflow_framework.so', 'libtensorflow_framework.so.2'],
  ]) fs.symlinkSync(to, path.join(libDir, link));
  log(`unpacked TensorFlow ${TF_VERSION} C library and headers from ${path.basename(wheel)} (${secs(t)})`);

  t = Date.now();
  const gypArgs = [nodeGyp, 'rebuild', '--module_name=tfjs_binding', '--module_path=./lib/napi-v8', '--napi_build_version=8'];
  // Build against the running Node's own headers when they are installed beside it (no download).
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  const nodedir = process.env.npm_config_nodedir ||
    (fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : null);
  if (nodedir) gypArgs.push(`--nodedir=${nodedir}`);
  run(process.execPath, gypArgs, { cwd: cachedPkg, env: { ...process.env, JOBS: process.env.JOBS || 'max' } });
  const binding = path.join(cachedPkg, bindingRel);
  if (!fs.existsSync(binding)) {
    fs.mkdirSync(path.dirname(binding), { recursive: true });
    fs.copyFileSync(path.join(cachedPkg, 'build', 'Release', 'tfjs_binding.node'), binding);
  }
  // Headers and object files are only needed for the build.
  fs.rmSync(incDir, { recursive: true, force: true });
  fs.rmSync(path.join(cachedPkg, 'build'), { recursive: true, force: true });
  log(`compiled the tfjs-node binding against TensorFlow ${TF_VERSION} (${secs(t)})`);
}

function main() {
  if (process.env.RANKDISTILL_SKIP_NATIVE === '1') {
    log('skipped (RANKDISTILL_SKIP_NATIVE=1)');
    return;
  }
  if (fs.existsSync(path.join(target, 'package.json'))) {
    const ok = probe();
    if (ok) {
      log(`native backend ready: ${ok}`);
      return;
    }
  }
  if (fs.existsSync(path.join(cachedPkg, bindingRel))) {
    const ok = restoreFromCache();
    if (ok) {
      log(`native backend restored from cache ${path.relative(root, buildDir) || buildDir}: ${ok} (${secs(t0)})`);
      return;
    }
    log('the cached build does not load; rebuilding');
  }
  log(`building the native TensorFlow backend (one-time; cached in ${path.relative(root, buildDir)})`);
  build();
  const ok = restoreFromCache();
  if (!ok) throw new Error('the freshly built binding does not load');
  log(`native backend ready: ${ok} (total ${secs(t0)})`);
}

try {
  main();
} catch (e) {
  console.warn(
    `[rankdistill native] WARNING: the native TensorFlow backend could not be set up: ${e.message}\n` +
      '[rankdistill native] rankdistill will run on the wasm backend (slower). Install @tensorflow/tfjs-node, ' +
      'or rerun `npm rebuild rankdistill` once python3 + pip can reach a tensorflow-cpu wheel.',
  );
}
