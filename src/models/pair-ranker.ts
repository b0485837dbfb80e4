// The shared base of rankers that score a (query, document) pair in one forward pass (CrossEncoder,
// RRA-BERT, the T5 rankers, RRA-GPT): the tokenizer slot, scoring in batches of similar length (less
// padding), ranking, and saving the tokenizer files and the model card beside the weights. A
// subclass supplies the model: encodeForTraining / forward / disposeBatch / trainableVariables /
// save / dispose, and, when its scoring batches differ from its training batches, scoringPlan().
import fs from 'node:fs';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import type { TextTokenizer } from '../tokenization/tokenizer.js';
import { writeModelCard, type ModelCardData, type ModelDescription } from './common/model-card.js';
import { rankByScore, type RankedDocument, type Ranker, type ScoreOptions, type TrainableRanker } from './ranker.js';

/** How score() batches pairs: a length per pair (batches take pairs in increasing length) and a batch builder. */
export interface ScoringPlan<B> {
  lengths: number[];
  /** The model batch of the pairs at these indices. */
  batch(indices: number[]): Promise<B>;
}

export abstract class PairRanker<B, O extends ScoreOptions = ScoreOptions> implements TrainableRanker<B>, Ranker {
  /** What the README.md model card says about how the model was made (the Trainer fills it in). */
  modelCard: ModelCardData = {};
  protected tok: TextTokenizer | null = null;
  /** How to give this ranker a tokenizer, for the error when it has none. */
  protected tokenizerHint = 'pass { tokenizer: DIR_OR_FILE } or set model.tokenizer';

  abstract encodeForTraining(pairs: Array<[string, string]>): Promise<B>;
  abstract disposeBatch(batch: B): void;
  abstract forward(batch: B, training: boolean): tf.Tensor1D;
  abstract trainableVariables(): Map<string, tf.Variable>;
  abstract save(dir: string): Promise<void>;
  abstract dispose(): void;

  get tokenizer(): TextTokenizer {
    if (!this.tok) throw new Error(`this ${this.constructor.name} has no tokenizer: ${this.tokenizerHint}`);
    return this.tok;
  }

  set tokenizer(t: TextTokenizer) {
    this.tok = t;
  }

  /** Default plan: pairs ordered by characters of query + document, each batch from encodeForTraining. */
  protected async scoringPlan(pairs: Array<[string, string]>): Promise<ScoringPlan<B>> {
    return { lengths: pairs.map((p) => p[0].length + p[1].length), batch: (idx) => this.encodeForTraining(idx.map((i) => pairs[i])) };
  }

  /** The scores of one batch in eval mode (default: forward); a subclass may score by other options. */
  protected scoreBatch(batch: B, _opts: O): tf.Tensor1D {
    return this.forward(batch, false);
  }

  /** Relevance scores of (query, document) pairs in eval mode, in input order. */
  async score(pairs: Array<[string, string]>, opts: O = {} as O): Promise<number[]> {
    const batchSize = opts.batchSize ?? 32;
    const out = new Array<number>(pairs.length);
    const plan = await this.scoringPlan(pairs);
    // Batching similar lengths together wastes less compute on padding.
    const order = plan.lengths.map((len, i) => ({ i, len })).sort((a, b) => a.len - b.len);
    for (let s = 0; s < order.length; s += batchSize) {
      const idx = order.slice(s, s + batchSize).map((o) => o.i);
      const batch = await plan.batch(idx);
      let scores: tf.Tensor1D;
      try {
        scores = this.scoreBatch(batch, opts);
      } finally {
        this.disposeBatch(batch);
      }
      const vals = await scores.data();
      scores.dispose();
      idx.forEach((i, j) => {
        out[i] = vals[j];
      });
    }
    return out;
  }

  /** Documents sorted by descending score (ties keep input order). */
  async rank(query: string, docs: string[], opts: O & { topK?: number } = {} as O): Promise<RankedDocument[]> {
    const scores = await this.score(
      docs.map((d) => [query, d] as [string, string]),
      opts,
    );
    return rankByScore(docs, scores, opts.topK);
  }

  /** Writes tokenizer.json, and tokenizer_config.json when given (what transformers' AutoTokenizer reads). */
  protected saveTokenizer(dir: string, tokenizerConfig?: Record<string, unknown>): void {
    if (!this.tok) return;
    this.tok.inner.save(path.join(dir, 'tokenizer.json'));
    if (tokenizerConfig) fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), `${JSON.stringify(tokenizerConfig, null, 2)}\n`);
  }

  /** Writes (or rewrites) README.md, the model card: what the model says of itself plus `modelCard`. */
  protected saveCard(dir: string, description: ModelDescription): string {
    return writeModelCard(dir, description, this.modelCard);
  }
}
