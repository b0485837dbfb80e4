// What the trainer needs from a model: tokenize pairs, differentiable scores, its variables, save.
// CrossEncoder, the T5 rankers, RRA-BERT and RRA-GPT all implement it.
import type * as tf from '@tensorflow/tfjs-core';
import type { LossResult, RankingLoss } from '../losses/types.js';
import type { ModelCardData } from '../models/common/model-card.js';

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
   * joint objective). Returns the loss and named components to log.
   */
  trainingLoss?(batch: B, labels: tf.Tensor2D, mask: tf.Tensor2D, rankLoss: RankingLoss): LossResult;
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
}
