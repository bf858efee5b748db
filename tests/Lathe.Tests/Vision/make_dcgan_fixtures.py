#!/usr/bin/env python3
"""Writes fixtures/dcgan.model.safetensors (a tiny class-conditional DCGAN's weights, random) and
fixtures/dcgan.expected.safetensors: the generator's images, the discriminator's logits on real and generated images,
the discriminator's loss (fakes detached) and the generator's non-saturating loss with PyTorch's BCEWithLogitsLoss, and
the gradients of each loss for every parameter of its player and for z; plus BCEWithLogitsLoss and its gradient on
logits up to ±40 for both targets. Built from torch.nn modules (Linear, GroupNorm, ConvTranspose2d, Conv2d, Embedding)
in float64 from float32 weights: the oracle for DcganModel and GanObjective.

Regenerate:  /usr/bin/python3 tests/Lathe.Tests/Vision/make_dcgan_fixtures.py
The C# test is Vision/DcganTests."""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "fixtures"))
import safetensors_io  # noqa: E402

torch.manual_seed(2208)
CFG = {"num_channels": 1, "image_size": 8, "num_classes": 3, "latent_dim": 4, "label_embedding_dim": 3,
       "generator_features": 4, "discriminator_features": 4, "norm_groups": 2}
C, SIDE, NC, Z, E, NGF, NDF, G = (CFG[k] for k in CFG)
S, B = SIDE // 4, 3


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.label_embedding = nn.Embedding(NC, E)
        self.project = nn.Linear(Z + E, 2 * NGF * S * S, bias=False)
        self.project_norm = nn.GroupNorm(G, 2 * NGF)
        self.deconv1 = nn.ConvTranspose2d(2 * NGF, NGF, 4, 2, 1, bias=False)
        self.norm1 = nn.GroupNorm(G, NGF)
        self.deconv2 = nn.ConvTranspose2d(NGF, C, 4, 2, 1)

    def forward(self, z, labels):
        h = self.project(torch.cat([z, self.label_embedding(labels)], 1)).reshape(-1, 2 * NGF, S, S)
        h = F.relu(self.project_norm(h))
        h = F.relu(self.norm1(self.deconv1(h)))
        return torch.tanh(self.deconv2(h))


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.label_embedding = nn.Embedding(NC, SIDE * SIDE)
        self.conv1 = nn.Conv2d(C + 1, NDF, 4, 2, 1)
        self.conv2 = nn.Conv2d(NDF, 2 * NDF, 4, 2, 1, bias=False)
        self.norm2 = nn.GroupNorm(G, 2 * NDF)
        self.classifier = nn.Linear(2 * NDF * S * S, 1)

    def forward(self, x, labels):
        h = torch.cat([x, self.label_embedding(labels).reshape(-1, 1, SIDE, SIDE)], 1)
        h = F.leaky_relu(self.conv1(h), 0.2)
        h = F.leaky_relu(self.norm2(self.conv2(h)), 0.2)
        return self.classifier(h.flatten(1)).reshape(-1)


gen, disc = Generator(), Discriminator()
weights = {}
with torch.no_grad():
    for prefix, module in (("generator.", gen), ("discriminator.", disc)):
        for name, p in module.named_parameters():
            p.copy_(0.4 * (torch.rand_like(p) - 0.5) if "norm" not in name else 1 + 0.5 * (torch.rand_like(p) - 0.5))
            weights[prefix + name] = p.detach().clone().numpy()
gen, disc = gen.double(), disc.double()

z = torch.randn(B, Z).float()
real = (torch.rand(B, C, SIDE, SIDE) * 2 - 1).float()
real_labels = torch.tensor([0, 2, 1])
fake_labels = torch.tensor([1, 1, 0])
bce = nn.BCEWithLogitsLoss()

zd = z.double().requires_grad_(True)
fake = gen(zd, fake_labels)
real_logits = disc(real.double(), real_labels)
fake_logits_d = disc(fake.detach(), fake_labels)
d_loss = bce(real_logits, torch.ones(B, dtype=torch.float64)) + bce(fake_logits_d, torch.zeros(B, dtype=torch.float64))
d_loss.backward()
out = {"z": z.numpy(), "real": real.numpy(), "real_labels": real_labels.int().numpy(), "fake_labels": fake_labels.int().numpy(),
       "fake": fake.detach().float().numpy(), "real_logits": real_logits.detach().float().numpy(),
       "fake_logits": fake_logits_d.detach().float().numpy(), "d_loss": d_loss.detach().float().reshape(1).numpy()}
for name, p in disc.named_parameters():
    out["d_grad.discriminator." + name] = p.grad.float().numpy()
    p.grad = None
g_loss = bce(disc(fake, fake_labels), torch.ones(B, dtype=torch.float64))
g_loss.backward()
out["g_loss"] = g_loss.detach().float().reshape(1).numpy()
for name, p in gen.named_parameters():
    out["g_grad.generator." + name] = p.grad.float().numpy()
out["g_grad.z"] = zd.grad.float().numpy()

logits = torch.tensor([-40.0, -7.5, -1.0, -0.1, 0.0, 0.3, 2.0, 9.0, 40.0]).float()
for target in (0, 1):
    l = logits.double().requires_grad_(True)
    loss = bce(l, torch.full_like(l, float(target)))
    loss.backward()
    out[f"bce.loss_{target}"] = loss.detach().float().reshape(1).numpy()
    out[f"bce.grad_{target}"] = l.grad.float().numpy()
out["bce.logits"] = logits.numpy()
os.makedirs(os.path.join(HERE, "fixtures"), exist_ok=True)
safetensors_io.save(os.path.join(HERE, "fixtures", "dcgan.model.safetensors"), weights, CFG)
safetensors_io.save(os.path.join(HERE, "fixtures", "dcgan.expected.safetensors"), out, CFG)
print("wrote", len(out), "expected tensors; d_loss", float(d_loss), "g_loss", float(g_loss))
