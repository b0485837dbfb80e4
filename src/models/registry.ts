// loadRanker: "whatever ranker this folder (or Hub id) holds". Each family says how it recognises its
// checkpoints from config.json and the library's own side files, how it loads them, and which files
// fix its scores; the first family (registered ones before the built-in) that recognises a folder
// loads it. Recognition, in the order tried:
//   bi-encoder      modules.json (a sentence-transformers folder)
//   rra-bert        rra_config.json or rra_tcl.safetensors beside a BERT cross-encoder
//   t5              config.json model_type "t5" (head and settings under its `rankdistill` key)
//   rra-gpt         config.json model_type "llama", rra_gpt.json, or a .gguf file (no config.json)
//   cross-encoder   config.json model_type "bert" (pooling under `rankdistill.pooling` when saved so)
import fs from 'node:fs';
import path from 'node:path';
import { resolvePretrained, type HubOptions } from '../hub/index.js';
import { readJsonObject } from '../io/json.js';
import { InputError } from '../utils/errors.js';
import type { TextTokenizer } from '../tokenization/tokenizer.js';
import { BiEncoder } from './bi-encoder/model.js';
import { CrossEncoder } from './cross-encoder.js';
import type { Ranker, TrainableRanker } from './ranker.js';
import { RraBert, RRA_CONFIG_FILE, TCL_WEIGHTS_FILE } from './rra-bert/model.js';
import { RraGpt } from './rra-gpt/ranker.js';
import { T5Ranker } from './t5/rankers.js';

/** A ranker as loadRanker returns it: it scores and ranks, and it trains. */
export type LoadedRanker = Ranker & TrainableRanker;

export interface LoadRankerOptions extends HubOptions {
  /** Skip recognition and load as this family (a built-in name or a registered one). */
  family?: string;
  /** Tokenizer instance, or a file/folder with one, when the model folder has none. */
  tokenizer?: TextTokenizer | string;
  /** Most input tokens (a pair, a text for the bi-encoder, a prompt for RRA-GPT); default: the model's. */
  maxLength?: number;
  /** Seed of whatever starts fresh (a head the checkpoint lacks) and of dropout. */
  seed?: number;
  /** Family options, given as they are to its fromPretrained (e.g. `{ head: 'twolar' }` for T5, `{ loadReport: false }`). */
  options?: Record<string, unknown>;
}

/** What recognition sees of a folder. */
export interface RankerFolder {
  /** The local folder (a Hub id resolved into the HF cache). */
  dir: string;
  /** config.json, or null when the folder has none. */
  config: Record<string, unknown> | null;
  /** Whether the folder has this file (a path relative to it). */
  has(file: string): boolean;
  /** The top-level file names of the folder. */
  files: string[];
}

export interface RankerFamily {
  name: string;
  /** One line for listings and errors. */
  description: string;
  /** Side files recognition reads besides config.json (fetched with it from the Hub when the repository has them). */
  sideFiles?: readonly string[];
  /** True when the folder holds this family's checkpoint. */
  detect(folder: RankerFolder): boolean;
  load(idOrPath: string, opts: LoadRankerOptions): Promise<LoadedRanker>;
  /** The files, relative to the folder, whose contents fix the scores (hashed by `rerank` to tell models apart). */
  scoreFiles(folder: RankerFolder): string[];
  /** The longest input of a loaded ranker, in tokens. */
  maxLength(ranker: LoadedRanker): number;
}

const modelType = (f: RankerFolder) => (typeof f.config?.model_type === 'string' ? f.config.model_type : undefined);
const existing = (f: RankerFolder, names: string[]) => names.filter((n) => f.has(n));
const ggufFiles = (f: RankerFolder) => f.files.filter((n) => n.endsWith('.gguf')).sort();

/**
 * The options for a family's fromPretrained: the common ones, the family's `options`, and the max
 * length under the family's name for it. Unset options are left out, so what the folder saved holds.
 */
function optionsFor(opts: LoadRankerOptions, maxLengthKey: string): Record<string, unknown> {
  const { family: _f, maxLength, options, ...rest } = opts;
  const all: Record<string, unknown> = { ...rest, [maxLengthKey]: maxLength, ...options };
  return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined));
}

const BUILTIN: RankerFamily[] = [
  {
    name: 'bi-encoder',
    description: 'sentence-transformers bi-encoder (BiEncoder): modules.json',
    sideFiles: ['modules.json'],
    detect: (f) => f.has('modules.json'),
    load: (id, o) => BiEncoder.fromPretrained(id, optionsFor(o, 'maxSeqLength')),
    scoreFiles: (f) => {
      const files = ['modules.json', 'config.json', 'model.safetensors', '1_Pooling/config.json', 'sentence_bert_config.json', 'config_sentence_transformers.json'];
      // A Transformer module in a subfolder (older sentence-transformers layouts).
      for (const sub of f.files.filter((n) => /^0_/.test(n))) files.push(`${sub}/config.json`, `${sub}/model.safetensors`);
      return existing(f, files);
    },
    maxLength: (r) => (r as BiEncoder).maxSeqLength,
  },
  {
    name: 'rra-bert',
    description: `RRA-BERT (RraBert): ${RRA_CONFIG_FILE} / ${TCL_WEIGHTS_FILE} beside a BERT cross-encoder`,
    sideFiles: [RRA_CONFIG_FILE, TCL_WEIGHTS_FILE],
    detect: (f) => f.has(RRA_CONFIG_FILE) || f.has(TCL_WEIGHTS_FILE),
    load: (id, o) => RraBert.fromPretrained(id, optionsFor(o, 'maxLength')),
    scoreFiles: (f) => existing(f, ['model.safetensors', TCL_WEIGHTS_FILE, RRA_CONFIG_FILE]),
    maxLength: (r) => (r as RraBert).encoder.maxLength,
  },
  {
    name: 't5',
    description: "T5 ranker (T5Ranker: monoT5, RankT5, TWOLAR): config.json model_type 't5', head under `rankdistill`",
    detect: (f) => modelType(f) === 't5',
    load: (id, o) => T5Ranker.fromPretrained(id, optionsFor(o, 'maxLength')),
    scoreFiles: (f) => existing(f, ['model.safetensors', 'config.json']),
    maxLength: (r) => (r as T5Ranker).maxLength,
  },
  {
    name: 'rra-gpt',
    description: "decoder ranker (RraGpt: Llama-family, RRA-GPT): config.json model_type 'llama', rra_gpt.json, or a .gguf file",
    sideFiles: ['rra_gpt.json'],
    detect: (f) => modelType(f) === 'llama' || f.has('rra_gpt.json') || (f.config === null && ggufFiles(f).length > 0),
    load: (id, o) => RraGpt.fromPretrained(id, optionsFor(o, 'maxPromptLength')),
    scoreFiles: (f) => (f.has('model.safetensors') ? existing(f, ['model.safetensors', 'rra_gpt.json']) : [...ggufFiles(f), ...existing(f, ['rra_gpt.json'])]),
    maxLength: (r) => (r as RraGpt).maxPromptLength,
  },
  {
    name: 'cross-encoder',
    description: "BERT cross-encoder (CrossEncoder): config.json model_type 'bert'",
    detect: (f) => modelType(f) === 'bert',
    load: (id, o) => CrossEncoder.fromPretrained(id, optionsFor(o, 'maxLength')),
    scoreFiles: (f) => existing(f, ['model.safetensors']),
    maxLength: (r) => (r as CrossEncoder).maxLength,
  },
];

const registered: RankerFamily[] = [];

/** Adds a family; it is tried before the built-in ones (and before families registered earlier). */
export function registerRankerFamily(family: RankerFamily): void {
  if (rankerFamilies().some((f) => f.name === family.name)) throw new Error(`a ranker family named '${family.name}' is already registered`);
  registered.unshift(family);
}

/** Every family, in the order recognition tries them. */
export function rankerFamilies(): readonly RankerFamily[] {
  return [...registered, ...BUILTIN];
}

/** What recognition sees of a local folder, or of the folder of a .gguf file. */
export function rankerFolder(dirOrFile: string): RankerFolder {
  if (fs.existsSync(dirOrFile) && fs.statSync(dirOrFile).isFile()) {
    const dir = path.dirname(dirOrFile);
    const name = path.basename(dirOrFile);
    if (!name.endsWith('.gguf')) throw new InputError('a ranker is a folder (config.json and weights) or a .gguf file', { file: dirOrFile });
    return { dir, config: null, files: [name], has: (f) => f === name };
  }
  if (!fs.existsSync(dirOrFile)) throw new InputError('model folder not found', { file: dirOrFile });
  const configFile = path.join(dirOrFile, 'config.json');
  return {
    dir: dirOrFile,
    config: fs.existsSync(configFile) ? readJsonObject(configFile) : null,
    files: fs.readdirSync(dirOrFile),
    has: (f) => fs.existsSync(path.join(dirOrFile, f)),
  };
}

/** The family of a folder, or an InputError saying what was found and what is known. */
export function detectRankerFamily(folder: RankerFolder): RankerFamily {
  const hit = rankerFamilies().find((f) => f.detect(folder));
  if (hit) return hit;
  const known = rankerFamilies().map((f) => `  ${f.name}: ${f.description}`).join('\n');
  const what = folder.config ? `config.json has model_type ${JSON.stringify(folder.config.model_type ?? null)}` : 'no config.json and no .gguf file';
  throw new InputError(`${what}: not a ranker rankdistill recognises (pass { family } to choose one). Known families:\n${known}`, {
    file: folder.config ? path.join(folder.dir, 'config.json') : folder.dir,
    field: folder.config ? 'model_type' : undefined,
  });
}

/** A folder or Hub id resolved to a local folder and the family that loads it. */
export interface ResolvedRanker {
  folder: RankerFolder;
  family: RankerFamily;
}

/** Where `dirOrId` is (Hub ids through the HF cache: `resolvePretrained`) and which family it holds. */
export async function resolveRanker(dirOrId: string, opts: LoadRankerOptions = {}): Promise<ResolvedRanker> {
  const byName = opts.family !== undefined ? rankerFamilies().find((f) => f.name === opts.family) : undefined;
  if (opts.family !== undefined && !byName) {
    throw new InputError(`unknown ranker family '${opts.family}' (known: ${rankerFamilies().map((f) => f.name).join(', ')})`, { field: 'family' });
  }
  const local = fs.existsSync(dirOrId);
  const sideFiles = [...new Set(rankerFamilies().flatMap((f) => f.sideFiles ?? []))];
  const where = local ? dirOrId : await resolvePretrained(dirOrId, { ...opts, files: ['config.json'], optionalFiles: sideFiles });
  const folder = rankerFolder(where);
  return { folder, family: byName ?? detectRankerFamily(folder) };
}

/**
 * Loads whatever ranker `dirOrId` holds: a folder saved by any ranker of the library (or an HF /
 * sentence-transformers checkpoint of a supported architecture), a .gguf decoder, or a Hub id.
 */
export async function loadRanker(dirOrId: string, opts: LoadRankerOptions = {}): Promise<LoadedRanker> {
  const { family } = await resolveRanker(dirOrId, opts);
  return family.load(dirOrId, opts);
}
