#!/usr/bin/env python3
"""The PyTorch peer of `lathe bench vision --model dit`: the same DiT (Peebles & Xie 2023) — 4×7×7 latents, patch 1 →
49 tokens, width 256, depth 6, 4 heads, MLP 4× (GELU-tanh), adaLN-Zero on timestep + class (10 classes + a null row,
labels dropped with p = 0.1), fixed 2-D sin-cos positions, final adaLN + linear — and the same training step: draw t,
ε, form x_t under the linear schedule (T = 1000), ε-prediction MSE, backward, global-norm clip 1.0, AdamW (lr 1e-4, no
weight decay), batch 64 of random latents. Median step after warm-up, in-process; prints the same JSON fields last.
(PyTorch 1.13 has no fused scaled_dot_product_attention; attention is softmax(QKᵀ/√d)V as timm's Attention computes it.)

Run (tuned as ../shared/PEERS.md says):
  OPENBLAS_CORETYPE=Cooperlake OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 scripts/bench/vision_peer_dit.py --threads 2
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from vision_peer_common import setup, time_steps


def modulate(x, shift, scale):
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class Attention(nn.Module):
    def __init__(self, C, H):
        super().__init__()
        self.H = H
        self.qkv, self.proj = nn.Linear(C, 3 * C), nn.Linear(C, C)

    def forward(self, x):
        B, T, C = x.shape
        qkv = self.qkv(x).reshape(B, T, 3, self.H, C // self.H).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = ((q @ k.transpose(-2, -1)) * (C // self.H) ** -0.5).softmax(-1) @ v
        return self.proj(a.transpose(1, 2).reshape(B, T, C))


class DiTBlock(nn.Module):
    def __init__(self, C, H, mlp_ratio=4):
        super().__init__()
        self.norm1 = nn.LayerNorm(C, elementwise_affine=False, eps=1e-6)
        self.norm2 = nn.LayerNorm(C, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(C, H)
        self.fc1, self.fc2 = nn.Linear(C, mlp_ratio * C), nn.Linear(mlp_ratio * C, C)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(C, 6 * C))

    def forward(self, x, c):
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + gate_msa.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift_msa, scale_msa))
        h = modulate(self.norm2(x), shift_mlp, scale_mlp)
        return x + gate_mlp.unsqueeze(1) * self.fc2(F.gelu(self.fc1(h), approximate="tanh"))


def sincos_2d(D, g):
    def one_d(dim, pos):
        omega = 1.0 / 10000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2.0))
        out = np.einsum("m,d->md", pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)
    grid = np.stack(np.meshgrid(np.arange(g, dtype=np.float64), np.arange(g, dtype=np.float64)), axis=0).reshape(2, 1, g, g)
    return torch.from_numpy(np.concatenate([one_d(D // 2, grid[0]), one_d(D // 2, grid[1])], axis=1)).float()


class DiT(nn.Module):
    def __init__(self, C_in=4, size=7, patch=1, D=256, depth=6, H=4, classes=10, freq=256):
        super().__init__()
        self.C_in, self.patch, self.freq, self.g = C_in, patch, freq, size // patch
        self.x_embedder = nn.Conv2d(C_in, D, patch, stride=patch)
        self.register_buffer("pos_embed", sincos_2d(D, self.g).unsqueeze(0))
        self.t_mlp = nn.Sequential(nn.Linear(freq, D), nn.SiLU(), nn.Linear(D, D))
        self.y_table = nn.Embedding(classes + 1, D)
        self.blocks = nn.ModuleList(DiTBlock(D, H) for _ in range(depth))
        self.norm_final = nn.LayerNorm(D, elementwise_affine=False, eps=1e-6)
        self.final_modulation = nn.Sequential(nn.SiLU(), nn.Linear(D, 2 * D))
        self.final_linear = nn.Linear(D, patch * patch * C_in)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        for b in self.blocks:
            nn.init.zeros_(b.adaLN_modulation[-1].weight); nn.init.zeros_(b.adaLN_modulation[-1].bias)
        for m in (self.final_modulation[-1], self.final_linear):
            nn.init.zeros_(m.weight); nn.init.zeros_(m.bias)

    def timestep_embedding(self, t):
        half = self.freq // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
        args = t[:, None].float() * freqs[None]
        return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)

    def forward(self, x, t, y):
        N = x.shape[0]
        h = self.x_embedder(x).flatten(2).transpose(1, 2) + self.pos_embed
        c = self.t_mlp(self.timestep_embedding(t)) + self.y_table(y)
        for b in self.blocks:
            h = b(h, c)
        shift, scale = self.final_modulation(c).chunk(2, dim=1)
        h = self.final_linear(modulate(self.norm_final(h), shift, scale))
        P, g = self.patch, self.g
        h = h.reshape(N, g, g, P, P, self.C_in)
        return torch.einsum("nhwpqc->nchpwq", h).reshape(N, self.C_in, g * P, g * P)




def main():
    a = setup()
    model = DiT()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    alpha_bar = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64), 0).float()
    B = a.batch_size
    x0 = torch.randn(B, 4, 7, 7)
    labels = torch.randint(0, 10, (B,))

    def step():
        t = torch.randint(0, 1000, (B,))
        eps = torch.randn_like(x0)
        ab = alpha_bar[t].view(B, 1, 1, 1)
        xt = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
        y = torch.where(torch.rand(B) < 0.1, torch.full_like(labels, 10), labels)
        opt.zero_grad(set_to_none=False)
        loss = F.mse_loss(model(xt, t, y), eps)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    time_steps("dit", a, model, step)


if __name__ == "__main__":
    main()
