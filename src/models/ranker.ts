// The ranker contract. A Ranker scores (query, document) pairs and ranks documents; a TrainableRanker
// is what the trainer needs on top: tokenize pairs, differentiable scores, its variables, save.
// Every ranker of the library implements both (pair rankers through ./pair-ranker.ts); loadRanker
// (./registry.ts) returns the right one for a saved folder.
import type * as tf from '@tensorflow/tfjs-core';
import type { LossResult, RankingLoss } from '../losses/types.js';
import type { ModelCardData } from './common/model-card.js';

export interface TrainableRanker<B = unknown> {
  /** Tokenizes (query, document) pairs into one model batch (tensors owned by the batch). */
  encodeForTraining(pairs: Array<[string, string]>): Promise<B>;
  /** Releases a batch's tensors. */
  disposeBatch(batch: B): void;
  /** Scores [pairs] for a batch; differentiable; dropout when `training`. */
  forward(batch: B, training: boolean): tf.Tensor1D;
  /**
   * Optional: the whole training objective for a batch of lists ([lists·listSize] pairs, row-major),
   * when the model trains on more than `loss(forward(...))` (RRA-BERT's term-control loss, RRA-GPT's
   * joint objective). Returns the loss and named components to log. `slot` maps each [lists, listSize]
   * cell to its pair in the batch (-1: padding), as the Trainer built the batch (./list-grid.ts
   * toListGrid reads it); without it, slotsFromMask(mask) gives the same map.
   */
  trainingLoss?(batch: B, labels: tf.Tensor2D, mask: tf.Tensor2D, rankLoss: RankingLoss, slot?: readonly number[]): LossResult;
  trainableVariables(): Map<string, tf.Variable>;
  /** Optional: the state of the model's dropout random stream, so a pass can be replayed exactly. */
  rngState?(): number;
  setRngState?(state: number): void;
  /** Optional: recompute activations in the backward pass instead of keeping them (less memory). */
  setGradientCheckpointing?(on: boolean): void;
  /** Relevance scores in eval mode (used for dev evaluation). */
  score(pairs: Array<[string, string]>, opts?: { batchSize?: number }): Promise<number[]>;
  save(dir: string): Promise<void>;
  /** Optional: the model card's data, written as README.md by save(); the Trainer fills in the run. */
  modelCard?: ModelCardData;
  /** Optional: (re)writes README.md in a saved folder, e.g. after a test evaluation; returns its path. */
  saveModelCard?(dir: string): string;
}

export interface ScoreOptions {
  /** Pairs per forward pass (default 32). */
  batchSize?: number;
}

export interface RankedDocument {
  /** Position of the document in the input list. */
  index: number;
  doc: string;
  score: number;
}

/** What every loaded ranker does: score pairs, rank documents, save, free its weights. */
export interface Ranker {
  /** Relevance scores of (query, document) pairs in eval mode, in input order. */
  score(pairs: Array<[string, string]>, opts?: ScoreOptions): Promise<number[]>;
  /** Documents sorted by descending score (ties keep input order). */
  rank(query: string, docs: string[], opts?: ScoreOptions & { topK?: number }): Promise<RankedDocument[]>;
  save(dir: string): Promise<void>;
  dispose(): void;
}

/** Documents by descending score, ties in input order, cut to `topK` when given. */
export function rankByScore(docs: readonly string[], scores: readonly number[], topK?: number): RankedDocument[] {
  const ranked = docs.map((doc, index) => ({ index, doc, score: scores[index] })).sort((a, b) => b.score - a.score || a.index - b.index);
  return topK ? ranked.slice(0, topK) : ranked;
}
