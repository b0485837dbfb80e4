export type { LossResult, RankingLoss, LossFactory, LossInfo } from './types.js';
export { getLoss, registerLoss, listLosses } from './registry.js';
export { sigmoidCrossEntropy, meanSquaredError, type SigmoidCrossEntropyOptions, type MeanSquaredErrorOptions, type PointwiseReduction } from './pointwise.js';
export {
  rankNet,
  pairwiseHinge,
  pairwiseSoftZeroOne,
  type RankNetOptions,
  type PairwiseHingeOptions,
  type PairwiseOptions,
  type PairReduction,
} from './pairwise.js';
export {
  softmaxCrossEntropy,
  poly1Softmax,
  listNet,
  listMLE,
  pListMLE,
  type SoftmaxCrossEntropyOptions,
  type Poly1SoftmaxOptions,
  type ListNetOptions,
  type ListMLEOptions,
  type PListMLEOptions,
  type TieRule,
} from './listwise.js';
export { lambdaLoss, type LambdaLossOptions, type LambdaScheme } from './lambda.js';
export { approxNDCG, neuralNDCG, neuralSort, type ApproxNDCGOptions, type NeuralNDCGOptions } from './approx.js';
export { klDivergence, marginMSE, type KLDivergenceOptions, type MarginMSEOptions } from './distillation.js';
export { type ListReduction, type GainFunction } from './utils.js';
// Building blocks for user-defined losses (see examples/custom-loss.ts).
export {
  sanitize,
  maskedLogits,
  maskedLabels,
  validMask,
  pairDiff,
  preferredPairs,
  validPairs,
  safeDiv,
  reduceLists,
  nonEmptyLists,
  noGrad,
  checkOptions,
  PAD_LOGIT,
} from './utils.js';
