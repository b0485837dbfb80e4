# Runs the real allRank and TF-Ranking loss code (and torch's MarginRankingLoss / kl_div) on the
# batches peer.test.ts sends, returning values and gradients w.r.t. the scores. Reads a JSON list of
# cases from the file named by argv[1], prints JSON. Only infrastructure modules are stubbed:
# allRank's data loader (sklearn/torchvision) and device helper (gcsfs), and TF-Ranking's package
# __init__ (it imports tf.estimator, gone since TF 2.16); every loss function runs unmodified.
import json, os, sys, types, importlib.util
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
import numpy as np
import torch
import torch.nn.functional as F

d = types.ModuleType('allrank.data.dataset_loading'); d.PADDED_Y_VALUE = -1
sys.modules['allrank.data.dataset_loading'] = d
mu = types.ModuleType('allrank.models.model_utils'); mu.get_torch_device = lambda: torch.device('cpu')
sys.modules['allrank.models.model_utils'] = mu
from allrank.models import losses as AR

import tensorflow as tf
root = os.path.dirname(importlib.util.find_spec('tensorflow_ranking').origin)
for name, sub in [('tensorflow_ranking', ''), ('tensorflow_ranking.python', 'python'), ('tensorflow_ranking.python.keras', 'python/keras')]:
    m = types.ModuleType(name); m.__path__ = [os.path.join(root, sub)]; sys.modules[name] = m
from tensorflow_ranking.python import losses_impl as LI
from tensorflow_ranking.python.keras import losses as KL
from tensorflow_ranking.python.keras import utils as KU

RED = {'SUM': tf.keras.losses.Reduction.SUM, 'SUM_OVER_BATCH_SIZE': tf.keras.losses.Reduction.SUM_OVER_BATCH_SIZE}
V1RED = {'SUM': tf.compat.v1.losses.Reduction.SUM, 'SUM_BY_NONZERO_WEIGHTS': tf.compat.v1.losses.Reduction.SUM_BY_NONZERO_WEIGHTS,
         'MEAN': tf.compat.v1.losses.Reduction.MEAN, 'SUM_OVER_BATCH_SIZE': tf.compat.v1.losses.Reduction.SUM_OVER_BATCH_SIZE}

def lambda_weight(spec):
    if spec is None: return None
    t = spec['type']; kw = {k: v for k, v in spec.items() if k != 'type'}
    if t == 'label_diff': return KL.LabelDiffLambdaWeight()
    if t == 'dcg': return KL.DCGLambdaWeight(topn=kw.get('topn'), smooth_fraction=kw.get('smoothFraction', 0.),
                                            gain_fn=KU.pow_minus_1 if kw.get('gainFn') == 'pow_minus_1' else None,
                                            normalized=kw.get('normalized', False))
    if t == 'ndcg': return KL.NDCGLambdaWeight(topn=kw.get('topn'), smooth_fraction=kw.get('smoothFraction', 0.))
    if t == 'ndcg_v2': return KL.NDCGLambdaWeightV2(topn=kw.get('topn'))
    if t == 'yeti_dcg': return KL.YetiDCGLambdaWeight(topn=kw.get('topn'), normalized=kw.get('normalized', False))
    if t == 'precision': return KL.PrecisionLambdaWeight(topn=kw['topn'])
    if t == 'listmle': return KL.ListMLELambdaWeight(rank_discount_fn=KU.log2_inverse)
    raise ValueError(t)

def tf_case(c, s):
    y = tf.constant(c['labels'], tf.float32)
    kw = dict(c.get('kwargs', {}))
    w = c.get('weights')
    sw = None if w is None else tf.constant(w, tf.float32) if np.ndim(w) == 2 else tf.constant(np.array(w)[:, None], tf.float32)
    fn = c['fn']
    if fn == 'gumbel':  # GumbelSampler with the noise our loss drew, then a Keras loss on the samples
        noise = tf.constant(np.array(c['noise'], np.float32).reshape(len(c['labels']), kw['sample_size'], len(c['labels'][0])))
        LI._sample_gumbel = lambda shape, eps=1e-20, seed=None: noise
        sampler = LI.GumbelSampler(sample_size=kw['sample_size'], temperature=kw.get('gumbel_temperature', 1.0))
        ly, ls, lw_ = sampler.sample(y, s, weights=None)
        inner = getattr(KL, kw['inner'])(reduction=RED[kw['reduction']], **kw.get('inner_kwargs', {}))
        return inner(ly, ls, lw_)
    if fn.startswith('v1:'):  # losses_impl objects, tf.estimator-style reduction
        obj = getattr(LI, fn[3:])(name='x', lambda_weight=lambda_weight(kw.get('lambda_weight')), **kw.get('init', {}))
        return obj.compute(y, s, 1.0 if sw is None else sw, V1RED[kw['reduction']])
    if fn == 'neural_sort':
        p = LI.neural_sort(s, mask=tf.greater_equal(y, 0.))
        return tf.reduce_sum(p * tf.constant(c['probe'], tf.float32)), p
    if fn == 'approx_ranks':
        r = LI.approx_ranks(s)
        return tf.reduce_sum(r * tf.constant(c['probe'], tf.float32)), r
    if fn == 'ndcg_ranks':
        v = LI.ndcg(y, ranks=LI.approx_ranks(s))
        return tf.reduce_sum(v), tf.reshape(v, [-1])
    if fn == 'inverse_max_dcg':
        v = LI.inverse_max_dcg(y, topn=kw.get('topn'))
        return tf.reduce_sum(v) + 0. * tf.reduce_sum(s), tf.reshape(v, [-1])
    if fn == 'unreduced':
        obj = getattr(LI, kw['cls'])(name='x', lambda_weight=lambda_weight(kw.get('lambda_weight')))
        losses, weights = obj.compute_unreduced_loss(y, s)
        return tf.reduce_sum(losses * weights), tf.stack([losses * weights, weights])
    lw = lambda_weight(kw.pop('lambda_weight', None))
    red = RED[kw.pop('reduction')]
    if lw is not None: kw['lambda_weight'] = lw
    return getattr(KL, fn)(reduction=red, **kw)(y, s, sw)

def torch_case(c, s):
    y = torch.tensor(c['labels'], dtype=s.dtype)
    kw = c.get('kwargs', {})
    fn = c['fn']
    if fn == 'margin_ranking':  # every pair with y_i > y_j, both real (label -1 = padding)
        x1, x2 = [], []
        for b in range(y.shape[0]):
            for i in range(y.shape[1]):
                for j in range(y.shape[1]):
                    if y[b, i] >= 0 and y[b, j] >= 0 and y[b, i] > y[b, j]:
                        x1.append(s[b, i]); x2.append(s[b, j])
        x1, x2 = torch.stack(x1), torch.stack(x2)
        return F.margin_ranking_loss(x1, x2, torch.ones_like(x1), margin=kw['margin'], reduction=kw['reduction'])
    if fn == 'kl_div':  # teacher logits in labels; padded slots (mask) left out of both softmaxes
        m = torch.tensor(c['mask']) > 0
        logq = torch.log_softmax(s.masked_fill(~m, float('-inf')), 1).masked_fill(~m, 0.)
        p = torch.softmax(y.masked_fill(~m, float('-inf')), 1).masked_fill(~m, 0.)
        return F.kl_div(logq, p, reduction=kw['reduction'])
    y = y.clone()
    return getattr(AR, fn)(s, y, **kw)

cases = json.load(open(sys.argv[1]))
out = []
for c in cases:
    if c['lib'] == 'tf':
        s = tf.Variable(np.array(c['scores'], np.float32))
        with tf.GradientTape() as tape:
            r = tf_case(c, s)
            loss, extra = (r if isinstance(r, tuple) else (r, None))
        g = tape.gradient(loss, s)
        out.append({'loss': float(loss.numpy()), 'grad': (g.numpy() if g is not None else np.zeros_like(s.numpy())).tolist(),
                    'extra': None if extra is None else extra.numpy().tolist()})
    else:
        dt = torch.float32 if c.get('float32') else torch.float64
        s = torch.tensor(c['scores'], dtype=dt, requires_grad=True)
        loss = torch_case(c, s)
        loss.backward()
        out.append({'loss': loss.item(), 'grad': s.grad.tolist()})
print(json.dumps(out))
