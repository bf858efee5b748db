#!/usr/bin/env python3
"""The PyTorch peer of `lathe bench vision --model vit`: the same ViT — 28×28×1 images, patch 4 (a Conv2d with kernel
= stride = 4) → 49 patches + a class token, learned positions, width 192, depth 6, 3 heads, pre-LN blocks with an
erf-GELU MLP 4×, final LayerNorm, classifier on the class token — and the same full training step (forward,
cross-entropy, backward, global-norm clip 1.0, AdamW with weight decay 0.05 on matrices) at batch 64 on random images
and labels. Prints the same JSON fields last (images_per_s, step_ms, peak_rss_mb, threads).

Run:  OPENBLAS_CORETYPE=Cooperlake OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 scripts/bench/vision_peer_vit.py --threads 2
(scripts/bench/vision-compare.sh sets the environment as ../shared/PEERS.md says.)
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from vision_peer_common import setup, time_steps


class Block(nn.Module):
    def __init__(self, C, H, mlp):
        super().__init__()
        self.H = H
        self.norm1, self.norm2 = nn.LayerNorm(C, eps=1e-12), nn.LayerNorm(C, eps=1e-12)
        self.qkv, self.proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        self.fc1, self.fc2 = nn.Linear(C, mlp * C), nn.Linear(mlp * C, C)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(B, T, 3, self.H, C // self.H).permute(2, 0, 3, 1, 4)   # (B,H,T,D) each
        att = ((q @ k.transpose(-2, -1)) * (C // self.H) ** -0.5).softmax(-1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(B, T, C))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class ViT(nn.Module):
    def __init__(self, image=28, channels=1, patch=4, C=192, L=6, H=3, mlp=4, classes=10):
        super().__init__()
        T = (image // patch) ** 2
        self.patch = nn.Conv2d(channels, C, patch, stride=patch)
        self.cls = nn.Parameter(torch.randn(1, 1, C) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, T + 1, C) * 0.02)
        self.blocks = nn.ModuleList(Block(C, H, mlp) for _ in range(L))
        self.norm = nn.LayerNorm(C, eps=1e-12)
        self.head = nn.Linear(C, classes)

    def forward(self, images, labels):
        x = self.patch(images).flatten(2).transpose(1, 2)                   # (B,T,C)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        for b in self.blocks:
            x = b(x)
        return F.cross_entropy(self.head(self.norm(x)[:, 0]), labels)




def main():
    a = setup()
    model = ViT()
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and n not in ("cls", "pos")]
    rest = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and n not in ("cls", "pos"))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": rest, "weight_decay": 0.0}], lr=1e-3)
    B = a.batch_size
    images, labels = torch.rand(B, 1, 28, 28), torch.randint(0, 10, (B,))

    def step():
        opt.zero_grad(set_to_none=False)
        loss = model(images, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    time_steps("vit", a, model, step)


if __name__ == "__main__":
    main()
