// The built-in losses with their registry names, descriptions and sources.
import type { LossInfo } from './types.js';
import { rankNet } from './pairwise.js';
import { softmaxCrossEntropy } from './listwise.js';

export const builtinLosses: LossInfo[] = [
  {
    name: 'ranknet',
    description: 'pairwise logistic log(1+exp(-σ(s_i-s_j))) over pairs with label_i > label_j; mean over pairs',
    source: 'Burges et al. 2005; RankGPT / TWOLAR distillation',
    factory: rankNet,
  },
  {
    name: 'softmax_cross_entropy',
    description: 'cross-entropy of softmax(scores) against normalised labels; list weight = label sum',
    source: 'Bruch et al. 2019; TF-Ranking SoftmaxLoss',
    factory: softmaxCrossEntropy,
  },
];
