// Text → token ids with the HF `tokenizers` library (the Rust implementation behind transformers'
// fast tokenizers), so ids match the Python side exactly. Loads `tokenizer.json`, or builds BERT's
// WordPiece tokenizer from `vocab.txt` (+ `tokenizer_config.json` for lower-casing).
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  Tokenizer,
  WordPiece,
  bertNormalizer,
  bertPreTokenizer,
  bertProcessing,
  wordPieceDecoder,
  type Encoding,
} from 'tokenizers';
import { InputError } from '../utils/errors.js';

/**
 * How a (query, document) pair is cut to `maxLength`: `longest_first` removes tokens from the longer
 * side one at a time (HF's default for pairs; the document, being longer, goes first), `only_second`
 * cuts the document only.
 */
export type TruncationStrategy = 'longest_first' | 'only_second' | 'only_first';

export interface EncodeOptions {
  /** Add the template's special tokens ([CLS] … [SEP], </s>, …). Default true. */
  addSpecialTokens?: boolean;
}

export interface BatchEncodeOptions {
  /** Maximum sequence length including special tokens (default: the tokenizer's `maxLength`). */
  maxLength?: number;
  truncation?: TruncationStrategy;
  /** Pad every row to the batch's longest (default) or to `maxLength` (`'max_length'`). */
  padding?: 'longest' | 'max_length';
  /** Round the padded length up to a multiple of this (fewer distinct shapes for the backend). */
  padToMultipleOf?: number;
  addSpecialTokens?: boolean;
}

/** A padded batch, row-major [batch, seqLen]. */
export interface EncodedBatch {
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  attentionMask: Int32Array;
  batch: number;
  seqLen: number;
  /** Unpadded length of each row. */
  lengths: number[];
  /** Token strings per row (unpadded), for inspection. */
  tokens: string[][];
}

export interface TokenizerOptions {
  /** Default maximum length for pair encoding (e.g. the model's max_position_embeddings). */
  maxLength?: number;
  /** The padding token (default: `[PAD]`, `<pad>` or id 0, whichever the vocabulary has). */
  padToken?: string;
}

const PAD_CANDIDATES = ['[PAD]', '<pad>', '<|endoftext|>'];

export class TextTokenizer {
  readonly maxLength: number;
  readonly padId: number;
  readonly padToken: string;
  /** Serialises calls that change the shared truncation/padding state of the native tokenizer. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(readonly inner: Tokenizer, opts: TokenizerOptions, readonly source: string) {
    // Files made for other uses carry fixed padding/truncation (e.g. pad everything to 128): we
    // always set both per call.
    inner.disablePadding();
    inner.disableTruncation();
    this.maxLength = opts.maxLength ?? 512;
    const pad = opts.padToken ?? PAD_CANDIDATES.find((t) => inner.tokenToId(t) !== null);
    this.padToken = pad ?? (inner.idToToken(0) ?? '<pad>');
    this.padId = inner.tokenToId(this.padToken) ?? 0;
  }

  /** Loads an HF `tokenizer.json`. */
  static fromFile(file: string, opts: TokenizerOptions = {}): TextTokenizer {
    if (!fs.existsSync(file)) throw new InputError('tokenizer file not found', { file });
    let inner: Tokenizer;
    try {
      inner = Tokenizer.fromFile(file);
    } catch (e) {
      throw new InputError(`cannot load tokenizer: ${(e as Error).message}`, { file });
    }
    return new TextTokenizer(inner, opts, file);
  }

  /** Loads a `tokenizer.json` given as text (e.g. one rebuilt from a GGUF file); `source` names it in errors. */
  static fromJson(json: string, opts: TokenizerOptions = {}, source = '<tokenizer.json>'): TextTokenizer {
    let inner: Tokenizer;
    try {
      inner = Tokenizer.fromString(json);
    } catch (e) {
      throw new InputError(`cannot load tokenizer: ${(e as Error).message}`, { file: source });
    }
    return new TextTokenizer(inner, opts, source);
  }

  /** Builds BERT's WordPiece tokenizer from `vocab.txt` (one token per line, id = line number). */
  static fromVocab(vocabFile: string, opts: TokenizerOptions & { lowercase?: boolean } = {}): TextTokenizer {
    let text: string;
    try {
      text = fs.readFileSync(vocabFile, 'utf8');
    } catch (e) {
      throw new InputError(`cannot read vocabulary: ${(e as Error).message}`, { file: vocabFile });
    }
    const vocab: Record<string, number> = {};
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    lines.forEach((tok, i) => {
      vocab[tok.replace(/\r$/, '')] = i;
    });
    for (const special of ['[CLS]', '[SEP]', '[UNK]']) {
      if (!(special in vocab)) throw new InputError(`vocabulary has no ${special} token`, { file: vocabFile });
    }
    const inner = new Tokenizer(WordPiece.init(vocab, { unkToken: '[UNK]', continuingSubwordPrefix: '##', maxInputCharsPerWord: 100 }));
    const lowercase = opts.lowercase ?? true;
    // strip_accents unset follows lowercase, as in BertTokenizer.
    inner.setNormalizer(bertNormalizer({ cleanText: true, handleChineseChars: true, lowercase }));
    inner.setPreTokenizer(bertPreTokenizer());
    inner.setPostProcessor(bertProcessing(['[SEP]', vocab['[SEP]']], ['[CLS]', vocab['[CLS]']]));
    inner.setDecoder(wordPieceDecoder('##'));
    inner.addSpecialTokens(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].filter((t) => t in vocab));
    return new TextTokenizer(inner, opts, vocabFile);
  }

  /**
   * Loads the tokenizer saved in a model directory: `tokenizer.json` if present, else `vocab.txt`
   * (with `do_lower_case` from `tokenizer_config.json`). `dirOrFile` may also name either file.
   */
  static fromDir(dirOrFile: string, opts: TokenizerOptions = {}): TextTokenizer {
    if (fs.existsSync(dirOrFile) && fs.statSync(dirOrFile).isFile()) {
      return dirOrFile.endsWith('.txt') ? TextTokenizer.fromVocab(dirOrFile, opts) : TextTokenizer.fromFile(dirOrFile, opts);
    }
    const json = path.join(dirOrFile, 'tokenizer.json');
    if (fs.existsSync(json)) return TextTokenizer.fromFile(json, opts);
    const vocab = path.join(dirOrFile, 'vocab.txt');
    if (fs.existsSync(vocab)) {
      let lowercase = true;
      const cfgFile = path.join(dirOrFile, 'tokenizer_config.json');
      if (fs.existsSync(cfgFile)) {
        const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as { do_lower_case?: boolean; model_max_length?: number };
        if (typeof cfg.do_lower_case === 'boolean') lowercase = cfg.do_lower_case;
      }
      return TextTokenizer.fromVocab(vocab, { ...opts, lowercase });
    }
    throw new InputError('no tokenizer.json or vocab.txt found (pass --tokenizer or copy the tokenizer files into the model directory)', {
      file: dirOrFile,
    });
  }

  get vocabSize(): number {
    return this.inner.getVocabSize(true);
  }

  tokenToId(token: string): number | undefined {
    return this.inner.tokenToId(token) ?? undefined;
  }

  idToToken(id: number): string | undefined {
    return this.inner.idToToken(id) ?? undefined;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Encodes one text (no truncation). */
  encode(text: string, opts: EncodeOptions = {}): Promise<{ ids: number[]; tokens: string[]; typeIds: number[] }> {
    return this.serial(async () => {
      this.inner.disableTruncation();
      this.inner.disablePadding();
      const e = await this.inner.encode(text, null, { addSpecialTokens: opts.addSpecialTokens ?? true });
      return { ids: e.getIds(), tokens: e.getTokens(), typeIds: e.getTypeIds() };
    });
  }

  decode(ids: number[], opts: { skipSpecialTokens?: boolean } = {}): Promise<string> {
    return this.inner.decode(ids, opts.skipSpecialTokens ?? true);
  }

  /** Encodes texts (pairs when `second` is given) with truncation and padding to one batch. */
  encodeBatch(first: string[], second?: string[], opts: BatchEncodeOptions = {}): Promise<EncodedBatch> {
    if (second && second.length !== first.length) {
      throw new Error(`encodeBatch: ${first.length} first texts but ${second.length} second texts`);
    }
    const maxLength = opts.maxLength ?? this.maxLength;
    const strategy = { longest_first: 'LongestFirst', only_second: 'OnlySecond', only_first: 'OnlyFirst' }[opts.truncation ?? 'longest_first'];
    return this.serial(async () => {
      this.inner.setTruncation(maxLength, { strategy: strategy as never });
      this.inner.disablePadding();
      const encodeOpts = { addSpecialTokens: opts.addSpecialTokens ?? true };
      // The binding's encodeBatch takes single texts only; pairs go through encode, in parallel.
      const encs: Encoding[] = second
        ? await Promise.all(first.map((a, i) => this.inner.encode(a, second[i], encodeOpts)))
        : first.length
          ? await this.inner.encodeBatch(first, encodeOpts)
          : [];
      this.inner.disableTruncation();
      return this.pack(encs, maxLength, opts);
    });
  }

  /** Encodes (query, document) pairs: `[CLS] q [SEP] d [SEP]` for BERT, with HF truncation. */
  encodePairs(pairs: Array<[string, string]>, opts: BatchEncodeOptions = {}): Promise<EncodedBatch> {
    return this.encodeBatch(
      pairs.map((p) => p[0]),
      pairs.map((p) => p[1]),
      opts,
    );
  }

  private pack(encs: Encoding[], maxLength: number, opts: BatchEncodeOptions): EncodedBatch {
    const lengths = encs.map((e) => e.getLength());
    let seqLen = opts.padding === 'max_length' ? maxLength : Math.max(1, ...lengths);
    if (opts.padToMultipleOf) seqLen = Math.ceil(seqLen / opts.padToMultipleOf) * opts.padToMultipleOf;
    const n = encs.length;
    const inputIds = new Int32Array(n * seqLen).fill(this.padId);
    const tokenTypeIds = new Int32Array(n * seqLen);
    const attentionMask = new Int32Array(n * seqLen);
    const tokens: string[][] = [];
    encs.forEach((e, r) => {
      const ids = e.getIds();
      const types = e.getTypeIds();
      inputIds.set(ids, r * seqLen);
      tokenTypeIds.set(types, r * seqLen);
      attentionMask.fill(1, r * seqLen, r * seqLen + ids.length);
      tokens.push(e.getTokens());
    });
    return { inputIds, tokenTypeIds, attentionMask, batch: n, seqLen, lengths, tokens };
  }
}

/** The batch as int32 tensors [batch, seqLen]; the caller disposes them. */
export function batchToTensors(b: EncodedBatch): { inputIds: tf.Tensor2D; tokenTypeIds: tf.Tensor2D; attentionMask: tf.Tensor2D } {
  return {
    inputIds: tf.tensor2d(b.inputIds, [b.batch, b.seqLen], 'int32'),
    tokenTypeIds: tf.tensor2d(b.tokenTypeIds, [b.batch, b.seqLen], 'int32'),
    attentionMask: tf.tensor2d(b.attentionMask, [b.batch, b.seqLen], 'int32'),
  };
}
