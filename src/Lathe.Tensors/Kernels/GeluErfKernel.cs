using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Lathe.Tensors.Kernels;

/// <summary>Exact (erf) GELU, y = x·Φ(x), vectorized through TensorPrimitives. Φ comes from erfc, not 1 + erf, so the
/// negative tail keeps its relative precision: erfc(a) ≈ t·exp(P(u) − a²) with a = |x|/√2 clamped to 10 (erfc(10)
/// ≈ 2e-45, below float's normal range), t = 1/(1 + a/2), u = t mapped from [1/6, 1] onto [−1, 1] and P a degree-9
/// polynomial fitted by scripts/fits/fit_erfc.py: |error| ≤ 1e-7·(1 + |y|) over float inputs, against float64.
/// Where 512-bit vectors exist the same formula runs in one pass over registers (Horner by fused multiply-add), 16
/// values at a time; the remainder, and machines without them, take the TensorPrimitives passes below.
/// Twin: <see cref="UnaryKernels"/> (double-precision series); called per chunk by <see cref="ElementwiseKernels"/>.</summary>
internal static unsafe class GeluErfKernel
{
    const float InvSqrt2 = 0.70710678118654752f, InvSqrt2Pi = 0.39894228040143268f, MaxA = 10f;
    const float Lo = 1f / 6f, Hi = 1f;
    const float UScale = 2f / (Hi - Lo), UShift = -(Lo + Hi) / (Hi - Lo);
    // P(u) = Σ c_k u^k, k = 0 … 9 (scripts/fits/fit_erfc.py).
    static ReadOnlySpan<float> C =>
    [
        -0.55859539836809957f, 0.57030710297661669f, 0.015747306080828548f, -0.029470336858018861f, -0.0010634079050689418f,
        0.0037074767403675653f, -0.00022596416182367273f, -0.00053432061051628609f, 7.2728790145720512e-05f, 5.4860246854463723e-05f,
    ];

    /// <summary>y = GELU(x) for n elements; uses this thread's body scratch.</summary>
    public static void Forward(float* x, float* y, int n)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            int i = 0;
            for (; i + 16 <= n; i += 16)
            {
                var v = Vector512.Load(x + i);
                (v * Cdf(v)).Store(y + i);
            }
            x += i; y += i; n -= i;
            if (n == 0) return;
        }
        var s = Scratch.Get(3L * n);
        var xs = new ReadOnlySpan<float>(x, n);
        var phi = new Span<float>(y, n);
        Cdf(xs, phi, new Span<float>(s, n), new Span<float>(s + n, n), new Span<float>(s + 2L * n, n));
        TensorPrimitives.Multiply(phi, xs, phi);
    }

    /// <summary>dx += dy·GELU′(x) (dx = … when <paramref name="overwrite"/>), GELU′(x) = Φ(x) + x·φ(x); uses this thread's body scratch. <paramref name="y"/> is
    /// the forward's output: the vector path recovers Φ(x) = y/x from it instead of evaluating erfc again —
    /// y = fl(x·Φ) keeps Φ's relative precision, so the quotient is within 2 ulp of Φ wherever y is a normal float; for
    /// |x| &lt; 2⁻¹⁰ it takes Φ ≈ ½ + x·φ(0) (error below x³/15 &lt; 1e-10).</summary>
    public static void Backward(float* x, float* y, float* dy, float* dx, int n, bool overwrite = false)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            int i = 0;
            var small = Vector512.Create(1f / 1024f);
            for (; i + 16 <= n; i += 16)
            {
                var v = Vector512.Load(x + i);
                var dens = FloatExp.Exp512(Vector512.Create(-0.5f) * v * v) * Vector512.Create(InvSqrt2Pi);
                var nearZero = Vector512.FusedMultiplyAdd(v, Vector512.Create(InvSqrt2Pi), Vector512.Create(0.5f));
                var cdf = Vector512.ConditionalSelect(Vector512.LessThan(Vector512.Abs(v), small), nearZero, Vector512.Load(y + i) / v);
                var slope = Vector512.FusedMultiplyAdd(dens, v, cdf);
                if (overwrite) (Vector512.Load(dy + i) * slope).Store(dx + i);
                else Vector512.FusedMultiplyAdd(Vector512.Load(dy + i), slope, Vector512.Load(dx + i)).Store(dx + i);
            }
            x += i; dy += i; dx += i; n -= i;
            if (n == 0) return;
        }
        if (overwrite) new Span<float>(dx, n).Clear();
        var s = Scratch.Get(4L * n);
        var xs = new ReadOnlySpan<float>(x, n);
        var phi = new Span<float>(s, n);
        var density = new Span<float>(s + 3L * n, n);
        Cdf(xs, phi, new Span<float>(s + n, n), new Span<float>(s + 2L * n, n), density);
        // φ(x) = exp(−x²/2)/√(2π); d = Φ + x·φ
        TensorPrimitives.Multiply(xs, xs, density);
        TensorPrimitives.Multiply(density, -0.5f, density);
        TensorPrimitives.Exp(density, density);
        TensorPrimitives.Multiply(density, InvSqrt2Pi, density);
        TensorPrimitives.MultiplyAdd(density, xs, phi, phi);
        var d = new Span<float>(dx, n);
        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(dy, n), phi, d, d);
    }

    // Φ(x) for 16 values, the same steps as the span version below.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Cdf(Vector512<float> x)
    {
        var a = Vector512.Min(Vector512.Abs(x) * Vector512.Create(InvSqrt2), Vector512.Create(MaxA));
        var t = Vector512<float>.One / Vector512.FusedMultiplyAdd(a, Vector512.Create(0.5f), Vector512<float>.One);
        var u = Vector512.FusedMultiplyAdd(t, Vector512.Create(UScale), Vector512.Create(UShift));
        var c = C;
        var p = Vector512.Create(c[9]);
        for (int k = 8; k >= 0; k--) p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create(c[k]));
        var e = FloatExp.Exp512(p - a * a) * t;                                       // erfc(a)
        var half = Vector512.FusedMultiplyAdd(e, Vector512.Create(-0.5f), Vector512.Create(0.5f));
        var sign = Vector512.Create(-0f);
        return Vector512.ConditionalSelect(sign, x, half) + Vector512.Create(0.5f);  // ½ + sign(x)·(½ − ½erfc(a))
    }

    // phi = Φ(x) = ½·erfc(−x/√2); t, u and p are scratch of the same length.
    static void Cdf(ReadOnlySpan<float> x, Span<float> phi, Span<float> t, Span<float> u, Span<float> p)
    {
        TensorPrimitives.Abs(x, phi);
        TensorPrimitives.Multiply(phi, InvSqrt2, phi);
        TensorPrimitives.Min(phi, MaxA, phi);                 // a
        TensorPrimitives.Multiply(phi, 0.5f, t);
        TensorPrimitives.Add(t, 1f, t);
        TensorPrimitives.Reciprocal(t, t);                    // t = 1/(1 + a/2) ∈ [1/6, 1]
        TensorPrimitives.Multiply(phi, phi, phi);             // a²
        TensorPrimitives.Multiply(t, UScale, u);
        TensorPrimitives.Add(u, UShift, u);                   // u ∈ [−1, 1]
        var c = C;
        p.Fill(c[9]);
        for (int k = 8; k >= 0; k--) TensorPrimitives.MultiplyAdd(p, u, c[k], p);   // Horner
        TensorPrimitives.Subtract(p, phi, p);                 // P − a²
        TensorPrimitives.Exp(p, p);
        TensorPrimitives.Multiply(p, t, p);                   // erfc(a)
        // Φ = ½erfc(a) for x < 0 and 1 − ½erfc(a) otherwise, i.e. ½ + sign(x)·(½ − ½erfc(a)).
        TensorPrimitives.Multiply(p, -0.5f, p);
        TensorPrimitives.Add(p, 0.5f, p);
        TensorPrimitives.CopySign(p, x, phi);
        TensorPrimitives.Add(phi, 0.5f, phi);
    }
}
