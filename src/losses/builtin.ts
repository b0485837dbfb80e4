// The built-in losses with their registry names, descriptions and sources.
import type { LossInfo } from './types.js';
import { approxNDCG, gumbelApproxNDCG, neuralNDCG } from './approx.js';
import { klDivergence, marginMSE } from './distillation.js';
import { lambdaLoss } from './lambda.js';
import { listMLE, listNet, pListMLE, poly1Softmax, softmaxCrossEntropy, uniqueSoftmax } from './listwise.js';
import { pairwiseHinge, pairwiseSoftZeroOne, rankNet } from './pairwise.js';
import { meanSquaredError, monoT5CrossEntropy, sigmoidCrossEntropy } from './pointwise.js';

export const builtinLosses: LossInfo[] = [
  {
    name: 'sigmoid_cross_entropy',
    description: 'pointwise BCE on logits, softplus(s/T) − y·s/T; mean over real items',
    source: 'TF-Ranking SigmoidCrossEntropyLoss',
    factory: sigmoidCrossEntropy,
  },
  {
    name: 'mse',
    description: 'pointwise (s − y)²; mean over real items',
    source: 'TF-Ranking MeanSquaredLoss',
    factory: meanSquaredError,
  },
  {
    name: 'monot5_cross_entropy',
    description: 'monoT5 token cross-entropy −[y log P(true) + (1−y) log P(false)] on monoT5 scores; mean over real items',
    source: 'Nogueira et al. 2020 (monoT5); pygaggle',
    factory: monoT5CrossEntropy,
  },
  {
    name: 'ranknet',
    description: 'pairwise logistic log(1+exp(-σ(s_i-s_j))) over pairs with label_i > label_j; mean over pairs',
    source: 'Burges et al. 2005; allRank rankNet; RankGPT / TWOLAR distillation',
    factory: rankNet,
  },
  {
    name: 'pairwise_logistic',
    description: 'alias of ranknet (TF-Ranking name)',
    source: 'TF-Ranking PairwiseLogisticLoss',
    factory: rankNet,
  },
  {
    name: 'pairwise_hinge',
    description: 'max(0, m − (s_i − s_j)/T) over pairs with label_i > label_j; mean over pairs',
    source: 'Herbrich et al. 2000; TF-Ranking PairwiseHingeLoss',
    factory: pairwiseHinge,
  },
  {
    name: 'pairwise_soft_zero_one',
    description: 'sigmoid(−(s_i − s_j)/T) over pairs with label_i > label_j; mean over pairs',
    source: 'TF-Ranking PairwiseSoftZeroOneLoss',
    factory: pairwiseSoftZeroOne,
  },
  {
    name: 'softmax_cross_entropy',
    description: 'cross-entropy of softmax(scores) against normalised labels; list weight = label sum',
    source: 'Bruch et al. 2019; TF-Ranking SoftmaxLoss',
    factory: softmaxCrossEntropy,
  },
  {
    name: 'poly1_softmax',
    description: 'softmax cross-entropy + ε(1 − p_t); TF-Ranking list weights',
    source: 'Leng et al. 2022 (PolyLoss); TF-Ranking PolyOneSoftmaxLoss',
    factory: poly1Softmax,
  },
  {
    name: 'unique_softmax',
    description: 'Σ_i (2^y_i − 1)·[log(e^s_i + Σ_{y_j<y_i} e^s_j) − s_i]; mean over lists',
    source: 'Zhu & Klabjan 2020; TF-Ranking UniqueSoftmaxLoss',
    factory: uniqueSoftmax,
  },
  {
    name: 'listnet',
    description: 'cross-entropy of softmax(scores) against softmax(labels); mean over lists',
    source: 'Cao et al. 2007; allRank listNet',
    factory: listNet,
  },
  {
    name: 'listmle',
    description: 'Plackett-Luce negative log-likelihood of the label order; mean over lists',
    source: 'Xia et al. 2008; TF-Ranking ListMLELoss, allRank listMLE',
    factory: listMLE,
  },
  {
    name: 'p_listmle',
    description: 'position-aware ListMLE, term r weighted (2^(n−r) − 1)/Σ; mean over lists',
    source: 'Lan et al. 2014; sentence-transformers PListMLELoss',
    factory: pListMLE,
  },
  {
    name: 'lambdaloss',
    description: 'NDCG-weighted pairwise logistic loss in predicted order (NDCG-Loss1/2/2++, LambdaRank, RankNet); mean over pairs',
    source: 'Wang et al. 2018; allRank lambdaLoss',
    factory: lambdaLoss,
  },
  {
    name: 'approx_ndcg',
    description: '−NDCG with smooth ranks 1 + Σ sigmoid(α(s_j − s_i)); mean over lists',
    source: 'Qin et al. 2010; allRank approxNDCGLoss, TF-Ranking ApproxNDCGLoss',
    factory: (o?: object) => approxNDCG(o),
  },
  {
    name: 'gumbel_approx_ndcg',
    description: 'ApproxNDCG on Gumbel-sampled scores (8 seeded samples per list, α = 10); mean over sampled lists',
    source: 'Bruch et al. 2020; TF-Ranking GumbelApproxNDCGLoss',
    factory: gumbelApproxNDCG,
  },
  {
    name: 'neural_ndcg',
    description: '−NDCG@k under the NeuralSort + Sinkhorn relaxed permutation; mean over lists with a relevant item',
    source: 'Pobrotyn & Białobrzeski 2021; allRank neuralNDCG',
    factory: neuralNDCG,
  },
  {
    name: 'kl_divergence',
    description: 'KL(softmax(teacher/τ) ‖ softmax(student/τ))·τ², labels = teacher logits; mean over lists',
    source: 'Hinton et al. 2015; sentence-transformers DistillKLDivLoss',
    factory: klDivergence,
  },
  {
    name: 'margin_mse',
    description: '((s_i − s_j) − (t_i − t_j))², labels = teacher scores; mean over pairs',
    source: 'Hofstätter et al. 2020; sentence-transformers MarginMSELoss',
    factory: marginMSE,
  },
];
