"""The PyTorch side of `npm run bench:quality`: the same distillation with sentence-transformers.

Reads a job file (JSON) written by bench/quality.ts: the student kind, the init folder, the training
plan (JSONL: one list per line, consecutive `lists_per_step` lines make one optimiser step), the loss
settings, the optimiser settings and the evaluation pairs. Trains as a user of sentence-transformers
6 would — CrossEncoder + RankNetLoss (natural log, as rankdistill's `ranknet`) or SentenceTransformer +
DistillKLDivLoss (cosine) — with the loop HF's Trainer runs (AdamW without decay on biases and
LayerNorm weights, linear warm-up and decay, gradient clipping at 1.0), but over the plan's lists in
the plan's order, so both sides see the same batches. Writes scores of the evaluation pairs, the
training wall-clock and the peak RSS to the job's `result` file.
"""

import json
import resource
import sys
import time

import torch
from transformers import get_linear_schedule_with_warmup


def main() -> None:
    job = json.load(open(sys.argv[1]))
    torch.set_num_threads(job["threads"])
    torch.manual_seed(job["seed"])
    plan = [json.loads(line) for line in open(job["plan"]) if line.strip()]
    per_step = job["listsPerStep"]
    steps = job["steps"]
    if len(plan) < steps * per_step:
        raise SystemExit(f"plan has {len(plan)} lists, {steps} steps of {per_step} need {steps * per_step}")

    if job["student"] == "cross-encoder":
        from sentence_transformers.cross_encoder import CrossEncoder
        from sentence_transformers.cross_encoder.losses import RankNetLoss

        model = CrossEncoder(job["init"], num_labels=1, max_length=job["maxLength"], device="cpu")
        net = model.model
        loss_fn = RankNetLoss(model, reduction_log="natural", mini_batch_size=-1)

        def step_loss(lists):
            return loss_fn([[l["query"] for l in lists], [l["docs"] for l in lists]], [torch.tensor(l["labels"], dtype=torch.float32) for l in lists])

    else:
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.sentence_transformer.losses import DistillKLDivLoss
        from sentence_transformers.util import pairwise_cos_sim

        model = SentenceTransformer(job["init"], device="cpu")
        model.max_seq_length = job["maxLength"]
        net = model
        loss_fn = DistillKLDivLoss(model, similarity_fct=pairwise_cos_sim, student_temperature=job["temperature"], teacher_temperature=job["teacherTemperature"])

        def step_loss(lists):
            n = len(lists[0]["docs"])
            if any(len(l["docs"]) != n for l in lists):
                raise SystemExit("DistillKLDivLoss needs lists of one length")
            columns = [[l["query"] for l in lists]] + [[l["docs"][j] for l in lists] for j in range(n)]
            features = [model.tokenize(c) for c in columns]
            return loss_fn(features, torch.tensor([l["labels"] for l in lists], dtype=torch.float32))

    decay, no_decay = [], []
    for name, p in net.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if ("bias" in name or "LayerNorm" in name or "norm" in name.lower()) else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": job["weightDecay"]}, {"params": no_decay, "weight_decay": 0.0}], lr=job["lr"])
    sched = get_linear_schedule_with_warmup(opt, round(job["warmupRatio"] * steps), steps)

    net.train()
    losses = []
    t0 = time.time()
    for s in range(steps):
        lists = plan[s * per_step : (s + 1) * per_step]
        loss = step_loss(lists)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), job["maxGradNorm"])
        opt.step()
        sched.step()
        opt.zero_grad()
        losses.append(loss.item())
    train_seconds = time.time() - t0
    train_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    net.eval()
    pairs = json.load(open(job["evalPairs"]))
    with torch.no_grad():
        if job["student"] == "cross-encoder":
            scores = model.predict([[p["query"], p["text"]] for p in pairs], batch_size=32, activation_fn=torch.nn.Identity(), convert_to_numpy=True).tolist()
        else:
            qs = sorted({p["query"] for p in pairs})
            ds = sorted({p["text"] for p in pairs})
            qv = dict(zip(qs, model.encode(qs, batch_size=32, convert_to_tensor=True, normalize_embeddings=True)))
            dv = dict(zip(ds, model.encode(ds, batch_size=32, convert_to_tensor=True, normalize_embeddings=True)))
            scores = [float(qv[p["query"]] @ dv[p["text"]]) for p in pairs]
    json.dump({"trainSeconds": train_seconds, "peakRssMB": train_rss / 1024, "losses": losses, "scores": scores}, open(job["result"], "w"))


if __name__ == "__main__":
    main()
