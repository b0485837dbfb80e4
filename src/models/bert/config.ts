// BERT hyper-parameters with the names of HF's config.json.
import { InputError } from '../../utils/errors.js';
import { activation } from '../common/layers.js';
import { configJsonText, readJsonObject } from '../../io/json.js';

export interface BertConfig {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: string;
  max_position_embeddings: number;
  type_vocab_size: number;
  layer_norm_eps: number;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  /** Dropout before the classifier; HF falls back to hidden_dropout_prob when null. */
  classifier_dropout: number | null;
  pad_token_id: number;
  /** 1: a raw-logit score (ms-marco cross-encoders); 2: monoBERT's two classes. */
  num_labels: number;
  initializer_range: number;
}

/** Defaults of HF's BertConfig (bert-base sizes), used for keys a config leaves out. */
export const BERT_DEFAULTS: BertConfig = {
  vocab_size: 30522,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  hidden_act: 'gelu',
  max_position_embeddings: 512,
  type_vocab_size: 2,
  layer_norm_eps: 1e-12,
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  classifier_dropout: null,
  pad_token_id: 0,
  num_labels: 1,
  initializer_range: 0.02,
};

/** Keys a checkpoint's config.json must state: the ones that fix the weight shapes. */
const REQUIRED: Array<keyof BertConfig> = [
  'vocab_size',
  'hidden_size',
  'num_hidden_layers',
  'num_attention_heads',
  'intermediate_size',
  'max_position_embeddings',
];

/** Validates a complete config (from code or a file); errors name the file and key. */
export function validateBertConfig(c: BertConfig, file?: string): BertConfig {
  for (const k of Object.keys(BERT_DEFAULTS) as Array<keyof BertConfig>) {
    const v = c[k];
    if (k === 'hidden_act') continue;
    if (k === 'classifier_dropout' && v === null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new InputError(`expected a number, got ${JSON.stringify(v)}`, { file, field: k });
    }
  }
  for (const k of ['vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'max_position_embeddings', 'type_vocab_size', 'num_labels'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) throw new InputError(`expected a positive integer, got ${c[k]}`, { file, field: k });
  }
  if (c.hidden_size % c.num_attention_heads !== 0) {
    throw new InputError(`hidden_size ${c.hidden_size} is not a multiple of num_attention_heads ${c.num_attention_heads}`, {
      file,
      field: 'num_attention_heads',
    });
  }
  activation(c.hidden_act, file);
  return c;
}

/** Fills defaults for a config given in code (`new CrossEncoder({hidden_size: 128, ...})`). */
export function bertConfig(partial: Partial<BertConfig> = {}): BertConfig {
  return validateBertConfig({ ...BERT_DEFAULTS, ...partial });
}

/** Parses an HF config.json object; both `torch_dtype` and `dtype` spellings and unknown keys are accepted. */
export function parseBertConfig(raw: Record<string, unknown>, file?: string): BertConfig {
  for (const k of REQUIRED) {
    if (!(k in raw)) throw new InputError('missing required key', { file, field: k });
  }
  if (raw.model_type !== undefined && raw.model_type !== 'bert') {
    throw new InputError(`model_type ${JSON.stringify(raw.model_type)} is not 'bert'`, { file, field: 'model_type' });
  }
  const pet = raw.position_embedding_type;
  if (pet !== undefined && pet !== 'absolute') {
    throw new InputError(`position_embedding_type ${JSON.stringify(pet)} is not supported (only 'absolute')`, {
      file,
      field: 'position_embedding_type',
    });
  }
  const c: Record<string, unknown> = { ...BERT_DEFAULTS };
  for (const k of Object.keys(BERT_DEFAULTS)) if (raw[k] !== undefined) c[k] = raw[k];
  // HF derives num_labels from id2label when it is not given.
  // and HF's own default is 2 labels (save_pretrained omits id2label when it equals that default).
  if (raw.num_labels === undefined) {
    c.num_labels = raw.id2label && typeof raw.id2label === 'object' ? Object.keys(raw.id2label).length : 2;
  }
  if (typeof c.hidden_act !== 'string') {
    throw new InputError(`expected an activation name, got ${JSON.stringify(c.hidden_act)}`, { file, field: 'hidden_act' });
  }
  return validateBertConfig(c as unknown as BertConfig, file);
}

export function readBertConfig(file: string): BertConfig {
  return parseBertConfig(readJsonObject(file), file);
}

/** BertConfig fields transformers 5.x validates as floats. */
export const BERT_FLOAT_KEYS = ['hidden_dropout_prob', 'attention_probs_dropout_prob', 'layer_norm_eps', 'initializer_range', 'classifier_dropout'];

/** config.json text for a BERT config (float fields keep their `.0`). */
export function bertConfigText(c: BertConfig, extra: Record<string, unknown> = {}): string {
  return configJsonText({ ...bertConfigJson(c), ...extra }, BERT_FLOAT_KEYS);
}

/** The config.json HF transformers writes for BertForSequenceClassification. */
export function bertConfigJson(c: BertConfig): Record<string, unknown> {
  const id2label: Record<string, string> = {};
  const label2id: Record<string, number> = {};
  for (let i = 0; i < c.num_labels; i++) {
    id2label[String(i)] = `LABEL_${i}`;
    label2id[`LABEL_${i}`] = i;
  }
  const { num_labels: _numLabels, ...rest } = c;
  return {
    architectures: ['BertForSequenceClassification'],
    model_type: 'bert',
    ...rest,
    position_embedding_type: 'absolute',
    id2label,
    label2id,
    torch_dtype: 'float32',
    use_cache: true,
  };
}
