#!/usr/bin/python3
"""Oracle for DedupTests.BandsForDefaultThreshold: the (b, r) minimising false-positive plus false-negative area
for threshold 0.8 and 128 hashes, by the same trapezoid integration (200 steps). Run: /usr/bin/python3 lsh_bands.py"""
import math
def integ(f,a,b,n=200):
    h=(b-a)/n; return sum((f(a+i*h)/(2 if i in(0,n) else 1)) for i in range(n+1))*h
best=None
for b in range(1,129):
  for r in range(1,129):
    if b*r>128: break
    P=lambda s:1-(1-s**r)**b
    e=integ(P,0,0.8)+integ(lambda s:1-P(s),0.8,1)
    if best is None or e<best[0]-1e-12: best=(e,b,r)
e,b,r=best; P=lambda s:1-(1-s**r)**b
print(best,(1/b)**(1/r),P(0.9),P(0.5),P(0.7),P(0.8))
