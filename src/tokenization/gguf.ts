// The tokenizer stored in a GGUF file's metadata, rebuilt as an HF `tokenizer.json` for the
// `tokenizers` library. Supported: GPT-2-style byte-level BPE (`tokenizer.ggml.model` = gpt2) with
// the pre-tokenizer llama.cpp assigns to `tokenizer.ggml.pre` (llama-vocab.cpp), so the ids are those
// llama.cpp and the model's original tokenizer.json give.
import { GGUFFile } from '../io/gguf.js';
import { InputError } from '../utils/errors.js';
import { TextTokenizer, type TokenizerOptions } from './tokenizer.js';

/** llama.cpp token types (`llama_token_type`). */
export const GGUF_TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

const BYTE_LEVEL = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };

/**
 * Pre-tokenizers by `tokenizer.ggml.pre`. llama.cpp splits the SmolLM/StarCoder family first on every
 * single numeric character (`\p{N}`), then with the GPT-2 regex: the HF tokenizer.json of those models
 * says the same with Digits(individual_digits) + ByteLevel.
 */
const PRE_TOKENIZERS: Record<string, object> = {
  'gpt-2': BYTE_LEVEL,
  gpt2: BYTE_LEVEL,
  smollm: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, BYTE_LEVEL] },
};
for (const alias of ['starcoder', 'refact', 'codeshell']) PRE_TOKENIZERS[alias] = PRE_TOKENIZERS.smollm;

export interface GgufTokenizerInfo {
  /** The tokenizer.json object. */
  json: Record<string, unknown>;
  tokens: string[];
  bosToken: string | null;
  eosToken: string | null;
  padToken: string | null;
  unkToken: string | null;
  addBos: boolean;
  addEos: boolean;
  /** `tokenizer.chat_template`, when the file has one. */
  chatTemplate: string | null;
}

/** Rebuilds the file's tokenizer as tokenizer.json (errors name the file and the metadata key). */
export function ggufTokenizer(g: GGUFFile): GgufTokenizerInfo {
  const file = g.file;
  const model = g.string('tokenizer.ggml.model', true);
  if (model !== 'gpt2') {
    throw new InputError(`tokenizer model '${model}' is not supported (gpt2 byte-level BPE); pass a tokenizer.json instead`, { file, field: 'tokenizer.ggml.model' });
  }
  const pre = g.string('tokenizer.ggml.pre') ?? 'gpt-2';
  const preTokenizer = PRE_TOKENIZERS[pre];
  if (!preTokenizer) {
    throw new InputError(`pre-tokenizer '${pre}' is not supported (${Object.keys(PRE_TOKENIZERS).join(', ')}); pass a tokenizer.json instead`, {
      file,
      field: 'tokenizer.ggml.pre',
    });
  }
  const tokens = g.array('tokenizer.ggml.tokens', 'string', true)!;
  const types = g.array('tokenizer.ggml.token_type', 'number') ?? tokens.map(() => GGUF_TOKEN_TYPE.NORMAL);
  if (types.length !== tokens.length) {
    throw new InputError(`${types.length} token types for ${tokens.length} tokens`, { file, field: 'tokenizer.ggml.token_type' });
  }
  const merges = g.array('tokenizer.ggml.merges', 'string', true)!;
  merges.forEach((m, i) => {
    if (m.split(' ').length !== 2) throw new InputError(`merge #${i} ${JSON.stringify(m)} is not two tokens separated by a space`, { file, field: 'tokenizer.ggml.merges' });
  });
  const vocab: Record<string, number> = {};
  tokens.forEach((t, i) => {
    if (t in vocab) throw new InputError(`token ${JSON.stringify(t)} appears twice (ids ${vocab[t]} and ${i})`, { file, field: 'tokenizer.ggml.tokens' });
    vocab[t] = i;
  });
  const special = (k: string): string | null => {
    const id = g.number(`tokenizer.ggml.${k}`);
    if (id === undefined) return null;
    if (!Number.isInteger(id) || id < 0 || id >= tokens.length) throw new InputError(`token id ${id} is outside the vocabulary of ${tokens.length}`, { file, field: `tokenizer.ggml.${k}` });
    return tokens[id];
  };
  const bosToken = special('bos_token_id');
  const eosToken = special('eos_token_id');
  const addBos = g.boolean('tokenizer.ggml.add_bos_token') ?? false;
  const addEos = g.boolean('tokenizer.ggml.add_eos_token') ?? false;
  // Control tokens are special (matched whole, skipped when decoding); user-defined ones are matched
  // whole but decoded as text, as llama.cpp does.
  const added = tokens.flatMap((content, id) =>
    types[id] === GGUF_TOKEN_TYPE.CONTROL || types[id] === GGUF_TOKEN_TYPE.USER_DEFINED
      ? [{ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: types[id] === GGUF_TOKEN_TYPE.CONTROL }]
      : [],
  );
  const single: unknown[] = [];
  const specials: Record<string, unknown> = {};
  for (const [on, tok] of [
    [addBos, bosToken],
    [addEos, eosToken],
  ] as const) {
    if (!on) continue;
    if (tok === null) throw new InputError('the file asks to add a BOS/EOS token but has no id for it', { file, field: 'tokenizer.ggml.add_bos_token' });
    specials[tok] = { id: tok, ids: [vocab[tok]], tokens: [tok] };
  }
  if (addBos) single.push({ SpecialToken: { id: bosToken, type_id: 0 } });
  single.push({ Sequence: { id: 'A', type_id: 0 } });
  if (addEos) single.push({ SpecialToken: { id: eosToken, type_id: 0 } });
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: preTokenizer,
    post_processor: addBos || addEos ? { type: 'TemplateProcessing', single, pair: [...single, { Sequence: { id: 'B', type_id: 1 } }], special_tokens: specials } : null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
  return {
    json,
    tokens,
    bosToken,
    eosToken,
    padToken: special('padding_token_id'),
    unkToken: special('unknown_token_id'),
    addBos,
    addEos,
    chatTemplate: g.string('tokenizer.chat_template') ?? null,
  };
}

/** A TextTokenizer for the GGUF file's tokenizer (padding token and maximum length from its metadata). */
export function tokenizerFromGguf(g: GGUFFile, opts: TokenizerOptions = {}, info = ggufTokenizer(g)): TextTokenizer {
  const arch = g.string('general.architecture');
  const ctx = arch ? g.number(`${arch}.context_length`) : undefined;
  return TextTokenizer.fromJson(
    JSON.stringify(info.json),
    { maxLength: ctx, padToken: info.padToken ?? undefined, ...opts },
    `${g.file} (tokenizer metadata)`,
  );
}

/** Opens a GGUF file just for its tokenizer. */
export function readGgufTokenizer(file: string, opts: TokenizerOptions = {}): TextTokenizer {
  return GGUFFile.with(file, (g) => tokenizerFromGguf(g, opts));
}
