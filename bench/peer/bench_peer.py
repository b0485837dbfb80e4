# The PyTorch + transformers side of `npm run bench`: the same cases as bench/run.ts, timed the same
# way (median of timed iterations after warm-up), printed as JSON on stdout with the peak RSS.
# The case comes as JSON on stdin; with "profile": true, one step after warm-up runs under
# torch.profiler and its per-op table (self CPU time) comes back instead of the timing.
import json, resource, sys, time, statistics
import torch

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
torch.manual_seed(0)


def timed_median(fn, warmup, iters):
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(iters):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return statistics.median(out)


def bert(cfg):
    from transformers import BertConfig, BertForSequenceClassification
    c = BertConfig(vocab_size=30522, hidden_size=cfg['hidden'], num_hidden_layers=cfg['layers'], num_attention_heads=cfg['heads'],
                   intermediate_size=cfg['intermediate'], max_position_embeddings=512, num_labels=1,
                   hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, attn_implementation='eager')
    return BertForSequenceClassification(c)


def inputs(cfg):
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1000, 30000, (cfg['batch'], cfg['seq']), generator=g)
    return ids, torch.ones_like(ids), torch.zeros_like(ids)


def profiled(fn, warmup, iters):
    # The same warm-up as a timed run, then one step under the profiler: per-op count and self time.
    for _ in range(warmup):
        fn()
    t = time.perf_counter()
    fn()
    wall = (time.perf_counter() - t) * 1000
    from torch.profiler import profile, ProfilerActivity
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    rows = [{'name': e.key, 'count': e.count, 'ms': e.self_cpu_time_total / 1000} for e in prof.key_averages() if e.self_cpu_time_total > 0]
    rows.sort(key=lambda r: -r['ms'])
    return {'wallMs': wall, 'kernels': sum(r['count'] for r in rows), 'kernelMs': sum(r['ms'] for r in rows), 'rows': rows}


def run_case(case):
    kind, cfg, w, n = case['kind'], case['config'], case['warmup'], case['iters']
    timed = profiled if case.get('profile') else timed_median
    if kind == 'bert-infer':
        m = bert(cfg).eval()
        ids, am, tt = inputs(cfg)
        def f():
            with torch.inference_mode():
                m(input_ids=ids, attention_mask=am, token_type_ids=tt).logits.sum().item()
        return timed(f, w, n)
    if kind == 'bert-train':
        m = bert(cfg).train()
        if cfg.get('checkpointing'):
            m.gradient_checkpointing_enable()
        ids, am, tt = inputs(cfg)
        no_decay = [p for n_, p in m.named_parameters() if n_.endswith('bias') or 'LayerNorm' in n_]
        decay = [p for n_, p in m.named_parameters() if not (n_.endswith('bias') or 'LayerNorm' in n_)]
        opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.01}, {'params': no_decay, 'weight_decay': 0.0}], lr=1e-5)
        def f():
            loss = m(input_ids=ids, attention_mask=am, token_type_ids=tt).logits.pow(2).mean()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            loss.item()
        return timed(f, w, n)
    if kind == 'loss':
        b, l = cfg['lists'], cfg['listSize']
        g = torch.Generator().manual_seed(2)
        s0 = torch.randn(b, l, generator=g, dtype=torch.float32)
        y = torch.randint(0, 4, (b, l), generator=g).float()
        mask = torch.ones(b, l)
        def ranknet(s):
            # RankGPT / TWOLAR RankNet: mean over pairs with y_i > y_j
            d = s[:, :, None] - s[:, None, :]
            w = ((y[:, :, None] - y[:, None, :]) > 0).float() * mask[:, :, None] * mask[:, None, :]
            return (torch.nn.functional.softplus(-d) * w).sum() / w.sum()
        def softmax_ce(s):
            p = y / y.sum(1, keepdim=True).clamp_min(1e-12)
            per = -(p * torch.log_softmax(s.masked_fill(mask == 0, -1e30), 1)).sum(1)
            wts = y.sum(1)
            return (per * wts).sum() / (wts > 0).sum()
        fn = {'ranknet': ranknet, 'softmax_cross_entropy': softmax_ce}[cfg['loss']]
        def f():
            s = s0.clone().requires_grad_(True)
            v = fn(s)
            v.backward()
            s.grad.sum().item()
        return timed(f, w, n)
    if kind == 'rerank':
        from sentence_transformers import CrossEncoder
        m = CrossEncoder(cfg['modelDir'], max_length=cfg['seq'], device='cpu')
        pairs = [(q, d) for q, d in json.load(open(cfg['pairsFile']))]
        def f():
            m.predict(pairs, batch_size=cfg['batch'], show_progress_bar=False)
        return timed(f, w, n)
    raise ValueError(kind)


# One case per process, so that the peak RSS belongs to that case alone.
case = json.load(sys.stdin)
res = run_case(case)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
if case.get('profile'):
    print(json.dumps({'id': case['id'], 'ms': res['wallMs'], 'peakRssMb': peak, 'profile': res}))
else:
    print(json.dumps({'id': case['id'], 'ms': res, 'peakRssMb': peak}))
