// Backend selection: tfjs-node-gpu, tfjs-node (native TensorFlow), wasm, cpu — the fastest that loads,
// unless an option or RANKDISTILL_BACKEND says otherwise.
import { createRequire } from 'node:module';
import os from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';
import * as tf from '@tensorflow/tfjs-core';
import { registerTensorflowKernels } from './tensorflow-kernels.js';

const require = createRequire(import.meta.url);

export type BackendPreference = 'auto' | 'tfjs-node-gpu' | 'tfjs-node' | 'tensorflow' | 'wasm' | 'cpu';

export interface BackendOptions {
  /** Which backend to use; default `auto` (or the RANKDISTILL_BACKEND environment variable). */
  backend?: BackendPreference;
  /** Threads for the wasm backend (it is single-threaded in Node; kept for the browser). */
  threads?: number;
  /** Suppress the one-time fallback warning. */
  quiet?: boolean;
}

export interface BackendInfo {
  /** tfjs backend name: `tensorflow`, `wasm` or `cpu`. */
  backend: string;
  /** npm package providing it. */
  package: string;
  /** Version of that package. */
  version: string;
  /** tfjs-core version. */
  tfjsCore: string;
  /** TensorFlow C library version (native backends only). */
  tensorflow: string | null;
  /** Worker threads the backend computes with. */
  threads: number;
  /** Why a faster backend was not used, when one was skipped. */
  fallbackReason: string | null;
}

let info: BackendInfo | null = null;
let warned = false;

function envPreference(): BackendPreference | undefined {
  const v = process.env.RANKDISTILL_BACKEND;
  if (!v) return undefined;
  const allowed: BackendPreference[] = ['auto', 'tfjs-node-gpu', 'tfjs-node', 'tensorflow', 'wasm', 'cpu'];
  if (!allowed.includes(v as BackendPreference)) {
    throw new Error(`RANKDISTILL_BACKEND=${v} is not one of ${allowed.join(', ')}`);
  }
  return v as BackendPreference;
}

interface NativeModule {
  version: Record<string, string>;
}

function tryNative(pkg: '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu'): { ok: true; mod: NativeModule } | { ok: false; why: string } {
  // TensorFlow's C++ start-up chatter (CPU feature notes) is noise for library users.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  try {
    const mod = require(pkg) as NativeModule;
    return { ok: true, mod };
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    return { ok: false, why: `${pkg}: ${msg}` };
  }
}

function nativeInfo(pkg: string, mod: NativeModule, fallbackReason: string | null): BackendInfo {
  // The binding reports the TensorFlow C library version it is linked against.
  const backend = tf.backend() as unknown as { binding?: { TF_Version?: string } };
  return {
    backend: tf.getBackend(),
    package: pkg,
    version: mod.version[pkg.replace('@tensorflow/', '')] ?? mod.version['tfjs-node'] ?? 'unknown',
    tfjsCore: tf.version_core,
    tensorflow: backend.binding?.TF_Version ?? null,
    // TensorFlow's intra-op pool defaults to one thread per core.
    threads: Number(process.env.TF_NUM_INTRAOP_THREADS) || os.availableParallelism(),
    fallbackReason,
  };
}

function pkgVersion(pkg: string): string {
  try {
    return (require(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

// Gradients are registered by the @tensorflow/tfjs bundle: tfjs-node loads it, wasm and cpu must.
async function registerGradients(): Promise<void> {
  await import('@tensorflow/tfjs');
}

async function useWasm(threads: number | undefined, fallbackReason: string | null): Promise<BackendInfo> {
  await registerGradients();
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (threads) wasm.setThreadsCount(threads);
  await tf.setBackend('wasm');
  await tf.ready();
  const { registerWasmKernelOverrides } = await import('./wasm-kernels.js');
  registerWasmKernelOverrides();
  return {
    backend: 'wasm',
    package: '@tensorflow/tfjs-backend-wasm',
    version: pkgVersion('@tensorflow/tfjs-backend-wasm'),
    tfjsCore: tf.version_core,
    tensorflow: null,
    threads: wasm.getThreadsCount(),
    fallbackReason,
  };
}

async function useCpu(fallbackReason: string | null): Promise<BackendInfo> {
  await registerGradients();
  await import('@tensorflow/tfjs-backend-cpu');
  // Chosen on purpose: its "install the node backend" banner would only be noise.
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
  await tf.ready();
  const { registerCpuKernelOverrides } = await import('./cpu-kernels.js');
  registerCpuKernelOverrides();
  return {
    backend: 'cpu',
    package: '@tensorflow/tfjs-backend-cpu',
    version: pkgVersion('@tensorflow/tfjs-backend-cpu'),
    tfjsCore: tf.version_core,
    tensorflow: null,
    threads: 1,
    fallbackReason,
  };
}

/** Loads a native backend synchronously if one is installed; returns null otherwise. */
function initNativeSync(pref: BackendPreference): { info: BackendInfo | null; why: string[] } {
  const why: string[] = [];
  const order: Array<'@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node'> =
    pref === 'tfjs-node-gpu' ? ['@tensorflow/tfjs-node-gpu']
      : pref === 'tfjs-node' ? ['@tensorflow/tfjs-node']
        : ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];
  for (const pkg of order) {
    const r = tryNative(pkg);
    if (r.ok) {
      tf.setBackend('tensorflow');
      registerTensorflowKernels();
      // An absent GPU package is not worth a note when the CPU one loads.
      const notes = why.filter((w) => !w.includes('Cannot find module'));
      return { info: nativeInfo(pkg, r.mod, notes.length ? notes.join('; ') : null), why };
    }
    why.push(r.why);
  }
  return { info: null, why };
}

/**
 * Selects and initialises the tensor backend. Idempotent: later calls return the first result
 * unless a different backend is asked for explicitly.
 */
export async function initBackend(options: BackendOptions = {}): Promise<BackendInfo> {
  const pref = options.backend ?? envPreference() ?? 'auto';
  if (info && (pref === 'auto' || matches(info, pref))) return info;
  if (pref === 'cpu') return (info = await useCpu(null));
  if (pref === 'wasm') return (info = await useWasm(options.threads, null));
  const native = initNativeSync(pref);
  if (native.info) return (info = native.info);
  if (pref !== 'auto') {
    throw new Error(`backend '${pref}' was asked for but cannot be loaded: ${native.why.join('; ')}`);
  }
  const reason = native.why.join('; ');
  if (!options.quiet && !warned) {
    warned = true;
    console.warn(
      'rankdistill: WARNING: the native TensorFlow backend is not available, using wasm (slower). ' +
        'Run `npm rebuild rankdistill` (needs python3 + pip) or install @tensorflow/tfjs-node. ' +
        `Set RANKDISTILL_BACKEND to choose a backend explicitly. (${reason.split(';')[0]})`,
    );
  }
  return (info = await useWasm(options.threads, reason));
}

function matches(i: BackendInfo, pref: BackendPreference): boolean {
  if (pref === 'tensorflow') return i.backend === 'tensorflow';
  if (pref === 'tfjs-node' || pref === 'tfjs-node-gpu') return i.package === `@tensorflow/${pref}`;
  return i.backend === pref;
}

/**
 * Makes sure some backend is active, for synchronous entry points (constructors). A native backend
 * loads synchronously; wasm needs `await initBackend()` first.
 */
export function ensureBackend(): BackendInfo {
  if (info) return info;
  const pref = envPreference() ?? 'auto';
  if (pref === 'auto' || pref === 'tensorflow' || pref === 'tfjs-node' || pref === 'tfjs-node-gpu') {
    const native = initNativeSync(pref);
    if (native.info) return (info = native.info);
  }
  throw new Error(
    "rankdistill: no tensor backend is initialised; call `await initBackend()` before constructing models " +
      '(the wasm and cpu backends initialise asynchronously).',
  );
}

/** The active backend, or null before initialisation. */
export function currentBackend(): BackendInfo | null {
  return info;
}

// Host copies of tensor data. tfjs-node hands a tensor made from a JS array to TensorFlow lazily, on
// first use, and TensorFlow then copies it (its buffers are 64-byte aligned, V8's are not); the JS
// array is garbage from then on, but V8 frees such arrays only when it collects, which may be long
// after (a small JS heap rarely triggers one). A model built or loaded weight by weight would hold
// every weight twice until then. `settleTensor` hands a tensor over at once and collects the JS
// copies every 64 MB; `releaseHostCopies` collects what is left. Other backends keep their data in
// JS, so both do nothing there.
const SETTLE_BYTES = 64 * 2 ** 20;
let unsettledBytes = 0;
let collect: (() => void) | null = null;

function collectGarbage(): void {
  if (!collect) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (exposed) collect = exposed;
    else {
      // The documented way to reach V8's collector from a running process.
      v8.setFlagsFromString('--expose-gc');
      collect = vm.runInNewContext('gc') as () => void;
    }
  }
  collect();
  unsettledBytes = 0;
}

/** Moves a tensor made from JS data into the native backend now; see above. */
export function settleTensor(t: tf.Tensor): void {
  if (tf.getBackend() !== 'tensorflow') return;
  // Any kernel reading the tensor makes tfjs-node hand it over; a reshape costs nothing.
  tf.dispose(tf.reshape(t, [-1]));
  unsettledBytes += t.size * 4;
  if (unsettledBytes >= SETTLE_BYTES) collectGarbage();
}

/** Collects the JS copies of settled tensors that are still waiting; see above. */
export function releaseHostCopies(): void {
  if (tf.getBackend() === 'tensorflow' && unsettledBytes > 0) collectGarbage();
}
