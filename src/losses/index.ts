export type { LossResult, RankingLoss, LossFactory, LossInfo, UnreducedLoss } from './types.js';
export { getLoss, registerLoss, listLosses } from './registry.js';
export {
  sigmoidCrossEntropy,
  meanSquaredError,
  monoT5CrossEntropy,
  monoT5TokenLoss,
  type SigmoidCrossEntropyOptions,
  type MeanSquaredErrorOptions,
  type MonoT5CrossEntropyOptions,
  type PointwiseReduction,
} from './pointwise.js';
export {
  REDUCTIONS,
  reduceLoss,
  reduceLists,
  defineLoss,
  computeUnreducedLoss,
  itemWeights,
  listWeights,
  type Reduction,
  type LossDefinition,
  type SampleWeights,
} from './reduction.js';
export {
  labelDiffLambdaWeight,
  dcgLambdaWeight,
  ndcgLambdaWeight,
  ndcgLambdaWeightV2,
  yetiDcgLambdaWeight,
  precisionLambdaWeight,
  listMLELambdaWeight,
  inverseMaxDcg,
  scoreRanks,
  type LambdaWeight,
  type LambdaWeightSpec,
  type DcgLambdaWeightOptions,
  type GainFn,
  type RankDiscountFn,
  type ListSizeScaling,
} from './lambda-weights.js';
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
  uniqueSoftmax,
  gumbelNoise,
  type SoftmaxCrossEntropyOptions,
  type UniqueSoftmaxOptions,
  type GumbelOptions,
  type ListReduction,
  type Poly1SoftmaxOptions,
  type ListNetOptions,
  type ListMLEOptions,
  type PListMLEOptions,
  type TieRule,
} from './listwise.js';
export { lambdaLoss, type LambdaLossOptions, type LambdaScheme } from './lambda.js';
export { setFastPaths } from './fast.js';
export { approxNDCG, gumbelApproxNDCG, neuralNDCG, neuralSort, approxRanks, ndcg, type ApproxNDCGOptions, type NeuralNDCGOptions } from './approx.js';
export { klDivergence, marginMSE, type KLDivergenceOptions, type MarginMSEOptions } from './distillation.js';
export { type GainFunction } from './utils.js';
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
  nonEmptyLists,
  noGrad,
  checkOptions,
  PAD_LOGIT,
} from './utils.js';
