"""PyTorch baseline for `npm run bench:runtime`: times the same training steps as bench/runtime.ts.

    /usr/bin/python3 bench/torch/runtime.py [--steps N] [--warmup W] [--only mlp|transformer|cnn|text-lm]

Prints one JSON object: {"torch": version, "threads": n, "models": {"mlp": {"ms", "cpuMs"}, "transformer": {...},
"cnn": {...}, "text-lm": {...}}}
(ms = median wall ms/step; cpuMs = process CPU ms per step, all threads).
Same models and work per step as Agora's engine: forward, mean cross-entropy, backward, global-norm
clipping (1.0) and AdamW (weight decay on matrices). PyTorch runs with its default threads (on these
2-core machines that is fastest; set_num_threads(2) is slower).
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, h, ff, T):
        super().__init__()
        self.h, self.dh = h, d // h
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc, self.out = nn.Linear(d, ff), nn.Linear(ff, d)
        self.register_buffer("mask", torch.triu(torch.ones(T, T, dtype=torch.bool), 1))

    def forward(self, x):
        B, T, D = x.shape
        q, k, v = self.qkv(self.ln1(x)).reshape(B, T, 3, self.h, self.dh).permute(2, 0, 3, 1, 4)
        s = (q / math.sqrt(self.dh)) @ k.transpose(-1, -2)
        a = torch.softmax(s.masked_fill(self.mask, float("-inf")), -1) @ v
        x = x + self.proj(a.permute(0, 2, 1, 3).reshape(B, T, D))
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class LM(nn.Module):
    def __init__(self, V=256, T=64, L=2, d=128, h=4, ff=512, tied=False):
        super().__init__()
        self.tok, self.pos = nn.Embedding(V, d), nn.Parameter(torch.randn(T, d) * 0.02)
        self.blocks = nn.ModuleList([Block(d, h, ff, T) for _ in range(L)])
        self.lnf, self.head = nn.LayerNorm(d), nn.Linear(d, V, bias=False)
        if tied:
            self.head.weight = self.tok.weight

    def forward(self, ids):
        x = self.tok(ids) + self.pos
        for b in self.blocks:
            x = b(x)
        return self.head(self.lnf(x)).reshape(-1, self.head.out_features)


def time_steps(model, make_batch, steps, warmup):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    nodecay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": nodecay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    batches = [make_batch() for _ in range(8)]
    times = []
    cpu0 = None
    for i in range(warmup + steps):
        if i == warmup:
            cpu0 = time.process_time()
        x, y = batches[i % len(batches)]
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        t1 = time.perf_counter()
        if i >= warmup:
            times.append((t1 - t0) * 1000)
    cpu = (time.process_time() - cpu0) * 1000 / steps
    return {"ms": statistics.median(times), "cpuMs": cpu}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    torch.manual_seed(0)
    res = {}
    if a.only in ("", "mlp"):
        mlp = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
        res["mlp"] = time_steps(mlp, lambda: (torch.rand(128, 784), torch.randint(0, 10, (128,))), a.steps, a.warmup)
    if a.only in ("", "transformer"):
        lm = LM()
        res["transformer"] = time_steps(
            lm, lambda: (torch.randint(0, 256, (32, 64)), torch.randint(0, 256, (32 * 64,))),
            max(10, a.steps // 2), a.warmup)
    if a.only in ("", "cnn"):
        # smallCnnSpec defaults (src/train/models/cnn.ts): conv3x3(8)-relu-maxpool2, conv3x3(16)-relu-maxpool2, linear.
        cnn = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Flatten(), nn.Linear(16 * 7 * 7, 10))
        res["cnn"] = time_steps(cnn, lambda: (torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,))), a.steps, a.warmup)
    if a.only in ("", "text-lm"):
        # TEXT_LM_DEFAULT (src/train/data/text-lm.ts): 2L d128 h4 FFN512 ctx64, tied embeddings, batch 16.
        lm = LM(tied=True)
        res["text-lm"] = time_steps(
            lm, lambda: (torch.randint(0, 256, (16, 64)), torch.randint(0, 256, (16 * 64,))),
            max(10, a.steps // 2), a.warmup)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "models": res}))


if __name__ == "__main__":
    main()
