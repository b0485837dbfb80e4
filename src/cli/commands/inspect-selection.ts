// `rankdistill inspect-selection`: RRA-BERT's Token Selection for one query and one document — every
// token with its segment, whether it is selected (and why), the query token it matched and the cosine.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../../backend/index.js';
import { RraBert } from '../../models/rra-bert/index.js';
import type { TokenSelectionConfig } from '../../models/rra-bert/selection.js';
import { InputError } from '../../utils/errors.js';
import { intOption } from '../options.js';
import { DEMO_DEFAULTS, defaultDataDir } from '../../recipes/index.js';

/** The pretrained encoder inspected by default. */
export const DEFAULT_MODEL = 'sentence-transformers/all-MiniLM-L6-v2';

export const usage = `usage: rankdistill inspect-selection --query TEXT --doc TEXT [--model ID_OR_DIR|random] [--tokenizer DIR_OR_FILE]
                                  [--source embeddings|LAYER] [--threshold T|none] [--top-k K] [--no-exact] [--json]

Prints the tokens of "[CLS] query [SEP] document [SEP]" with RRA-BERT's Token Selection: for each
document token, the most similar query token and the cosine similarity, and whether it is selected
(exact word-piece match, similarity ≥ threshold, or among a query token's top-k). --model is a Hub id
(default ${DEFAULT_MODEL}, fetched on first use) or a checkpoint directory (an RRA-BERT save, any BERT
cross-encoder, or a headless BERT encoder; its rra_config.json gives the defaults). The selection reads
the encoder's embeddings or hidden states only, so a checkpoint without a ranking head is fine.
--model random uses a randomly initialised TinyBERT-shaped model, which is only meaningful for exact
matches and --source embeddings (default tokenizer: ../shared/data's TinyBERT vocabulary).
--doc @FILE reads the document from a file.`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      query: { type: 'string', short: 'q' },
      doc: { type: 'string', short: 'd' },
      model: { type: 'string' },
      tokenizer: { type: 'string' },
      source: { type: 'string' },
      threshold: { type: 'string' },
      'top-k': { type: 'string' },
      'no-exact': { type: 'boolean' },
      json: { type: 'boolean' },
    },
  });
  if (!values.query || !values.doc) {
    console.error(usage);
    return 2;
  }
  let doc = values.doc;
  if (doc.startsWith('@')) {
    const file = doc.slice(1);
    if (!fs.existsSync(file)) throw new InputError('document file not found', { file });
    doc = fs.readFileSync(file, 'utf8');
  }
  const selection: TokenSelectionConfig = {};
  if (values.source !== undefined) {
    const layer = Number(values.source);
    if (values.source !== 'embeddings' && !Number.isInteger(layer)) throw new InputError(`--source must be 'embeddings' or a layer number, got '${values.source}'`, { field: '--source' });
    selection.source = values.source === 'embeddings' ? 'embeddings' : layer;
  }
  if (values.threshold !== undefined) {
    const t = Number(values.threshold);
    if (values.threshold !== 'none' && !Number.isFinite(t)) throw new InputError(`--threshold must be a number or 'none', got '${values.threshold}'`, { field: '--threshold' });
    selection.threshold = values.threshold === 'none' ? null : t;
  }
  if (values['top-k'] !== undefined) selection.topK = intOption(values['top-k'], 'top-k', 1);
  if (values['no-exact']) selection.exactMatch = false;
  await initBackend();
  const defaultTok = path.join(defaultDataDir(), DEMO_DEFAULTS.tokenizer);
  const name = values.model ?? DEFAULT_MODEL;
  // The load report (a headless encoder gets a fresh ranking head) is beside the point here: the selection never reads the head.
  let headless = false;
  const model =
    name === 'random'
      ? new RraBert(DEMO_DEFAULTS.model, { tokenizer: values.tokenizer ?? defaultTok, rra: { selection } })
      : await RraBert.fromPretrained(name, { tokenizer: values.tokenizer, rra: { selection }, loadReport: (r) => (headless = r.missing.some((k) => k.startsWith('classifier.'))) });
  try {
    const rows = await model.inspect(values.query, doc);
    if (values.json) {
      console.log(JSON.stringify({ model: name, selection: model.rra.selection, tokens: rows }, null, 2));
      return 0;
    }
    const sel = model.rra.selection;
    const c = model.config;
    console.log(`model ${name === 'random' ? 'random (TinyBERT shape, untrained)' : name}: BERT H=${c.hidden_size} L=${c.num_hidden_layers}${headless ? ' (no ranking head in the checkpoint; the selection does not use one)' : ''}`);
    console.log(`selection on ${sel.source === 'embeddings' ? 'input embeddings' : `layer ${sel.source}`}; threshold ${sel.threshold ?? 'off'}, top-k ${sel.topK || 'off'}, exact matches ${sel.exactMatch ? 'on' : 'off'}`);
    console.log(`${'pos'.padStart(4)}  ${'token'.padEnd(18)} ${'segment'.padEnd(9)} sel  ${'reason'.padEnd(9)} ${'query token'.padEnd(16)} cosine`);
    for (const r of rows) {
      console.log(
        `${String(r.position).padStart(4)}  ${r.token.padEnd(18)} ${r.segment.padEnd(9)} ${r.selected ? ' * ' : '   '}  ${r.reason.padEnd(9)} ${(r.queryToken ?? '').padEnd(16)} ${r.similarity === null ? '' : r.similarity.toFixed(4)}`,
      );
    }
    const n = rows.filter((r) => r.selected).length;
    console.log(`${n} of ${rows.filter((r) => r.segment === 'document').length} document tokens selected`);
  } finally {
    model.dispose();
  }
  return 0;
}
