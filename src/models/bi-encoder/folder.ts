// Reading and writing the sentence-transformers folder layout:
//   modules.json                      [{idx, name, path, type}] — Transformer → Pooling → Normalize
//   config.json, model.safetensors,   the transformer (BERT) at the Transformer module's path ('' = root)
//   tokenizer.json / vocab.txt, tokenizer_config.json
//   sentence_bert_config.json         max_seq_length, do_lower_case (legacy keys; newer versions keep the
//                                     length in tokenizer_config.json model_max_length or processor_kwargs)
//   1_Pooling/config.json             pooling modes (legacy booleans or `pooling_mode`)
//   config_sentence_transformers.json similarity_fn_name
// A plain HF folder without modules.json loads as sentence-transformers loads it: Transformer + mean pooling.
import fs from 'node:fs';
import path from 'node:path';
import { readJsonObject } from '../../io/json.js';
import { InputError } from '../../utils/errors.js';
import { parsePoolingConfig, type PoolingMode } from './pooling.js';

export type Similarity = 'cosine' | 'dot';

export interface SentenceTransformerLayout {
  /** Folder of the Transformer module (config.json, weights, tokenizer). */
  transformerDir: string;
  /** Maximum tokens per text, when the folder states it. */
  maxSeqLength?: number;
  doLowerCase: boolean;
  pooling: PoolingMode[];
  /** The Pooling config's file and its stated token dimension (checked against the transformer's). */
  poolingFile?: string;
  poolingDimension?: number;
  normalize: boolean;
  /** `similarity_fn_name`, when the folder states one we support. */
  similarity?: Similarity;
  /** True when the folder had a modules.json (a sentence-transformers model, not a bare HF one). */
  sentenceTransformers: boolean;
}

/** Last dotted component of a module type: `sentence_transformers.models.Pooling` → `Pooling`. */
function moduleKind(type: string): string {
  return type.slice(type.lastIndexOf('.') + 1);
}

function readOptionalJson(file: string): Record<string, unknown> | undefined {
  return fs.existsSync(file) ? readJsonObject(file) : undefined;
}

function positiveInt(v: unknown, file: string, field: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new InputError(`expected a positive integer, got ${JSON.stringify(v)}`, { file, field });
  return v;
}

/** The max length a Transformer folder states: sentence_bert_config.json first, then the tokenizer's. */
function readTransformerSettings(dir: string): { maxSeqLength?: number; doLowerCase: boolean } {
  const sbFile = path.join(dir, 'sentence_bert_config.json');
  const sb = readOptionalJson(sbFile) ?? {};
  let maxSeqLength = positiveInt(sb.max_seq_length, sbFile, 'max_seq_length');
  for (const k of ['processor_kwargs', 'tokenizer_args'] as const) {
    const o = sb[k];
    if (maxSeqLength === undefined && o && typeof o === 'object') maxSeqLength = positiveInt((o as Record<string, unknown>).model_max_length, sbFile, `${k}.model_max_length`);
  }
  const tcFile = path.join(dir, 'tokenizer_config.json');
  if (maxSeqLength === undefined && fs.existsSync(tcFile)) {
    const ml = readJsonObject(tcFile).model_max_length;
    // transformers writes a huge sentinel (1e30) for "no limit".
    if (typeof ml === 'number' && Number.isInteger(ml) && ml > 0 && ml < 1e9) maxSeqLength = ml;
  }
  const dl = sb.do_lower_case;
  if (dl !== undefined && typeof dl !== 'boolean') throw new InputError(`expected true or false, got ${JSON.stringify(dl)}`, { file: sbFile, field: 'do_lower_case' });
  return { maxSeqLength, doLowerCase: dl === true };
}

function readSimilarity(dir: string): Similarity | undefined {
  const file = path.join(dir, 'config_sentence_transformers.json');
  const s = readOptionalJson(file)?.similarity_fn_name;
  if (s === undefined || s === null) return undefined;
  if (s === 'cosine' || s === 'dot') return s;
  // 'euclidean' / 'manhattan' rank differently from an inner product; not supported as a training score.
  throw new InputError(`similarity ${JSON.stringify(s)} is not supported (cosine or dot)`, { file, field: 'similarity_fn_name' });
}

/** Reads the module layout of a sentence-transformers (or bare HF BERT) folder. */
export function readSentenceTransformerLayout(dir: string): SentenceTransformerLayout {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new InputError('model folder not found', { file: dir });
  const modulesFile = path.join(dir, 'modules.json');
  if (!fs.existsSync(modulesFile)) {
    return { transformerDir: dir, ...readTransformerSettings(dir), pooling: ['mean'], normalize: false, similarity: readSimilarity(dir), sentenceTransformers: false };
  }
  let modules: unknown;
  try {
    modules = JSON.parse(fs.readFileSync(modulesFile, 'utf8'));
  } catch (e) {
    throw new InputError(`cannot read modules: ${(e as Error).message}`, { file: modulesFile });
  }
  if (!Array.isArray(modules)) throw new InputError('expected a JSON array of modules', { file: modulesFile });
  const sorted = modules
    .map((m: unknown, i: number) => {
      if (!m || typeof m !== 'object') throw new InputError(`expected an object, got ${JSON.stringify(m)}`, { file: modulesFile, field: `[${i}]` });
      const o = m as Record<string, unknown>;
      if (typeof o.type !== 'string') throw new InputError(`expected a module class name, got ${JSON.stringify(o.type)}`, { file: modulesFile, field: `[${i}].type` });
      if (typeof o.path !== 'string') throw new InputError(`expected a folder path, got ${JSON.stringify(o.path)}`, { file: modulesFile, field: `[${i}].path` });
      return { i, idx: typeof o.idx === 'number' ? o.idx : i, type: o.type, path: o.path };
    })
    .sort((a, b) => a.idx - b.idx);
  const kinds = sorted.map((m) => moduleKind(m.type));
  const order = ['Transformer', 'Pooling', 'Normalize'];
  // Only the pipeline this class computes: Transformer, then optionally Pooling, then optionally Normalize.
  for (let j = 0; j < sorted.length; j++) {
    const k = kinds[j];
    const expected = j === 0 ? ['Transformer'] : order.slice(order.indexOf(kinds[j - 1]) + 1);
    if (!expected.includes(k)) {
      const what = order.includes(k) ? `module ${k} out of order` : `module type ${JSON.stringify(sorted[j].type)} is not supported`;
      throw new InputError(`${what} (supported: Transformer → Pooling → Normalize)`, { file: modulesFile, field: `[${sorted[j].i}].type` });
    }
  }
  const tr = sorted[0];
  const transformerDir = path.join(dir, tr.path);
  const pm = sorted.find((m) => moduleKind(m.type) === 'Pooling');
  // Without a Pooling module the output would be token states, not one vector per text.
  if (!pm) throw new InputError('no Pooling module: a bi-encoder needs one vector per text', { file: modulesFile });
  const poolingFile = path.join(dir, pm.path, 'config.json');
  if (!fs.existsSync(poolingFile)) throw new InputError('Pooling module config not found', { file: poolingFile });
  const { modes, dimension } = parsePoolingConfig(readJsonObject(poolingFile), poolingFile);
  return {
    transformerDir,
    ...readTransformerSettings(transformerDir),
    pooling: modes,
    poolingFile,
    poolingDimension: dimension,
    normalize: kinds.includes('Normalize'),
    similarity: readSimilarity(dir),
    sentenceTransformers: true,
  };
}

/** modules.json as we write it (the class paths every sentence-transformers version resolves). */
export function modulesJson(normalize: boolean): Array<Record<string, unknown>> {
  const mods: Array<Record<string, unknown>> = [
    { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
    { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
  ];
  if (normalize) mods.push({ idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' });
  return mods;
}
