export type { LossResult, RankingLoss, LossFactory, LossInfo } from './types.js';
export { getLoss, registerLoss, listLosses } from './registry.js';
export { rankNet, type RankNetOptions } from './pairwise.js';
export { softmaxCrossEntropy, type SoftmaxCrossEntropyOptions } from './listwise.js';
