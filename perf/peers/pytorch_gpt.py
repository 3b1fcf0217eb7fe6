#!/usr/bin/env python3
"""The PyTorch peer of Engine's GPU training step (docs/cuda.md, "Compared with PyTorch").

Plain eager PyTorch (no torch.compile), the same GPT as Engine.Nn's default GptConfig: pre-norm blocks with layer
norm and biases, a fused qkv projection, RoPE ("rotate half" pairs, base 10 000), a tanh-GELU MLP of ratio 4, tied
embeddings, GPT-2 initialisation, AdamW (lr 3e-3, betas 0.9/0.95, weight decay 0.1 on matrices), gradient clipping at
1. Attention is Softmax through scaled_dot_product_attention, or LSSAR (Gao & Spratling, arXiv 2501.13428) composed
from torch ops exactly as Engine defines it: unit-normalised q and k, scores log(d)·log(n_i)·q̂·k̂, Softplus and l1
normalisation over the visible keys, then r = ReLU(n_i·a − o_i)^p (o_i = 0 for the first three rows, 1 after),
w = r / Σ r (a row whose r are all zero keeps a).

It prints tokens/s, ms/step and peak device memory for the same configuration, dtype and steps as the Engine run it
is placed beside. Never part of the solution or CI. Example:

    python3 perf/peers/pytorch_gpt.py --attention softmax --steps 50 --layers 6 --dim 512 --heads 8 --context 256 --batch 16
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def rope_tables(length, head_dim, base, device, dtype):
    half = head_dim // 2
    inv = base ** (-torch.arange(0, half, dtype=torch.float64, device=device) * 2 / head_dim)
    angles = torch.arange(length, dtype=torch.float64, device=device)[:, None] * inv[None, :]
    return angles.cos().to(dtype), angles.sin().to(dtype)


def rope(x, cos, sin):
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def lssar(q, k, v, power=15.0, warm_rows=3):
    """LSSAR composed from torch ops over [B, H, T, d] (causal)."""
    t, d = q.shape[-2], q.shape[-1]
    qn = q / q.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    kn = k / k.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    n = torch.arange(1, t + 1, device=q.device, dtype=q.dtype)            # visible keys per row
    lam = math.log(d) * torch.log(n)                                      # log(d)·log(n_i)
    scores = (qn @ kn.transpose(-1, -2)) * lam[:, None]
    mask = torch.ones(t, t, dtype=torch.bool, device=q.device).tril()
    f = F.softplus(scores).masked_fill(~mask, 0)
    a = f / f.sum(-1, keepdim=True)
    offset = torch.where(n <= warm_rows, 0.0, 1.0).to(q.dtype)
    r = F.relu(n[:, None] * a - offset[:, None]).pow(power).masked_fill(~mask, 0)
    total = r.sum(-1, keepdim=True)
    w = torch.where(total > 0, r / total.clamp_min(torch.finfo(q.dtype).tiny), a)
    return w @ v


class Block(nn.Module):
    def __init__(self, dim, heads, layers, attention):
        super().__init__()
        self.heads, self.attention = heads, attention
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.fc, self.out = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)
        for m in (self.qkv, self.fc):
            nn.init.normal_(m.weight, 0, 0.02)
            nn.init.zeros_(m.bias)
        for m in (self.proj, self.out):
            nn.init.normal_(m.weight, 0, 0.02 / math.sqrt(2 * layers))
            nn.init.zeros_(m.bias)

    def forward(self, x, cos, sin):
        b, t, c = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        if self.attention == "softmax":
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            y = lssar(q, k, v)
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, c))
        return x + self.out(F.gelu(self.fc(self.norm2(x)), approximate="tanh"))


class Gpt(nn.Module):
    def __init__(self, vocab, dim, heads, layers, attention, rope_base=10000.0):
        super().__init__()
        self.heads, self.rope_base = heads, rope_base
        self.embed = nn.Embedding(vocab, dim)
        nn.init.normal_(self.embed.weight, 0, 0.02)
        self.blocks = nn.ModuleList(Block(dim, heads, layers, attention) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, idx):
        t = idx.shape[1]
        x = self.embed(idx)
        cos, sin = rope_tables(t, x.shape[-1] // self.heads, self.rope_base, idx.device, x.dtype)
        for block in self.blocks:
            x = block(x, cos, sin)
        return self.norm(x) @ self.embed.weight.t()                      # tied embeddings


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--attention", choices=["softmax", "lssar"], default="softmax")
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--context", type=int, default=256)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--vocab", type=int, default=256)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    p.add_argument("--precision", choices=["fp32", "tf32", "bf16"], default="fp32")
    p.add_argument("--device", default="cuda")
    args = p.parse_args()

    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = args.precision == "tf32"
    torch.backends.cudnn.allow_tf32 = args.precision == "tf32"
    torch.manual_seed(1)
    model = Gpt(args.vocab, args.dim, args.heads, args.layers, args.attention).to(device)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    rest = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                            lr=3e-3, betas=(0.9, 0.95), eps=1e-8)
    # The same learnable pattern as Engine's GPU check: runs of ascending tokens from a random start.
    g = torch.Generator().manual_seed(1)
    start = torch.randint(0, args.vocab, (args.batch, 1), generator=g)
    seq = ((start + torch.arange(args.context + 1)[None, :]) % args.vocab).to(device)
    x, y = seq[:, :-1].contiguous(), seq[:, 1:].contiguous()

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            logits = model(x)
        loss = F.cross_entropy(logits.float().view(-1, args.vocab), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(args.warmup):
        step()
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    sync()
    seconds = (time.perf_counter() - t0) / args.steps
    peak = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else float("nan")
    params = sum(p.numel() for p in model.parameters())
    print(f"pytorch {torch.__version__} eager, {args.attention}, {args.precision}, {params / 1e6:.1f} M params, "
          f"{args.layers}x{args.dim}, batch {args.batch}x{args.context}: {seconds * 1e3:.1f} ms/step, "
          f"{args.batch * args.context / seconds:.0f} tokens/s, peak {peak:.0f} MiB, last loss {loss.item():.4f}")


if __name__ == "__main__":
    main()
