#!/usr/bin/env python3
"""Coefficients of GeluErfKernel's erfc: erfc(a) ≈ t·exp(P(u) − a²) for a ≥ 0, t = 1/(1 + a/2), u the affine map of
t ∈ [1/6, 1] (a ∈ [0, 10]) onto [−1, 1], P a degree-9 polynomial fitted by Chebyshev least squares to
ln(erfc(a)/t) + a² (smooth on the whole range; the t·exp(·) form follows Abramowitz & Stegun 7.1.26's idea of a
polynomial in t = 1/(1 + p·a) times exp(−a²)). Prints the monomial coefficients in u (low → high) and the worst
error of GELU(x) = x·Φ(x) evaluated in float32 the way the kernel does, against float64 math.erfc.

Run: /usr/bin/python3 scripts/fits/fit_erfc.py
"""
import math

import numpy as np

LO, HI, DEG = 1 / 6, 1.0, 9

k = np.arange(4000)
u = np.cos(np.pi * (k + 0.5) / 4000)                 # Chebyshev nodes on [−1, 1]
t = (LO + HI) / 2 + (HI - LO) / 2 * u
a = 2 * (1 / t - 1)
f = np.array([math.log(math.erfc(x) / tt) + x * x for x, tt in zip(a, t)])
p = np.polynomial.chebyshev.cheb2poly(np.polynomial.chebyshev.chebfit(u, f, DEG))
print("coefficients (u^0 … u^9):")
for c in p:
    print(f"    {c:.17g}")


def gelu32(x):
    x = x.astype(np.float32)
    aa = np.minimum(np.abs(x) * np.float32(1 / math.sqrt(2)), np.float32(10))
    tt = np.float32(1) / (np.float32(1) + np.float32(0.5) * aa)
    uu = tt * np.float32(2 / (HI - LO)) - np.float32((LO + HI) / (HI - LO))
    P = np.full_like(uu, np.float32(p[-1]))
    for c in p[-2::-1]:
        P = P * uu + np.float32(c)
    half_erfc = np.float32(0.5) * tt * np.exp(P - aa * aa)
    return x * np.where(x < 0, half_erfc, np.float32(1) - half_erfc)


xs = np.linspace(-12, 12, 2000001).astype(np.float32)
ref = np.array([0.5 * v * math.erfc(-v / math.sqrt(2)) for v in xs.astype(np.float64)])
got = gelu32(xs).astype(np.float64)
print("max |error|/(1+|y|):", np.max(np.abs(got - ref) / (1 + np.abs(ref))))
