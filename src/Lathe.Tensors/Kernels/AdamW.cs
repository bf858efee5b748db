using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Lathe.Tensors.Kernels;

/// <summary>The fused AdamW update (Loshchilov &amp; Hutter 2019, decoupled weight decay) in one pass over a
/// parameter, its gradient and both moments:
/// m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  p ← p − lr·(m̂/(√v̂ + ε) + λp), with m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ).</summary>
public static unsafe class AdamW
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Step(float* p, float* g, float* m, float* v, int n, float lr, float beta1, float beta2, float eps, float weightDecay, int step)
    {
        if (n < 0 || step < 1) throw new ArgumentException($"AdamW: n = {n} must be ≥ 0 and step = {step} ≥ 1.");
        float c1 = 1f / (1f - MathF.Pow(beta1, step)), c2 = 1f / (1f - MathF.Pow(beta2, step));
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vb1 = Vector512.Create(beta1); var vb1c = Vector512.Create(1 - beta1);
            var vb2 = Vector512.Create(beta2); var vb2c = Vector512.Create(1 - beta2);
            var vc1 = Vector512.Create(c1); var vc2 = Vector512.Create(c2);
            var veps = Vector512.Create(eps); var vlr = Vector512.Create(lr); var vwd = Vector512.Create(weightDecay);
            for (; i <= n - 16; i += 16)
            {
                var gi = Vector512.Load(g + i);
                var mi = vb1 * Vector512.Load(m + i) + vb1c * gi;
                var vi = vb2 * Vector512.Load(v + i) + vb2c * gi * gi;
                var pi = Vector512.Load(p + i);
                var update = mi * vc1 / (Vector512.Sqrt(vi * vc2) + veps) + vwd * pi;
                (pi - vlr * update).Store(p + i);
                mi.Store(m + i);
                vi.Store(v + i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var vb1 = Vector256.Create(beta1); var vb1c = Vector256.Create(1 - beta1);
            var vb2 = Vector256.Create(beta2); var vb2c = Vector256.Create(1 - beta2);
            var vc1 = Vector256.Create(c1); var vc2 = Vector256.Create(c2);
            var veps = Vector256.Create(eps); var vlr = Vector256.Create(lr); var vwd = Vector256.Create(weightDecay);
            for (; i <= n - 8; i += 8)
            {
                var gi = Vector256.Load(g + i);
                var mi = vb1 * Vector256.Load(m + i) + vb1c * gi;
                var vi = vb2 * Vector256.Load(v + i) + vb2c * gi * gi;
                var pi = Vector256.Load(p + i);
                var update = mi * vc1 / (Vector256.Sqrt(vi * vc2) + veps) + vwd * pi;
                (pi - vlr * update).Store(p + i);
                mi.Store(m + i);
                vi.Store(v + i);
            }
        }
        StepScalar(p + i, g + i, m + i, v + i, n - i, lr, beta1, beta2, eps, weightDecay, c1, c2);
    }

    /// <summary>The scalar twin (also the tail of the vector loop); same operation order as the vector path.</summary>
    internal static void StepScalar(float* p, float* g, float* m, float* v, int n, float lr, float beta1, float beta2, float eps, float weightDecay, float c1, float c2)
    {
        for (int i = 0; i < n; i++)
        {
            float gi = g[i];
            float mi = beta1 * m[i] + (1 - beta1) * gi;
            float vi = beta2 * v[i] + (1 - beta2) * gi * gi;
            float update = mi * c1 / (MathF.Sqrt(vi * c2) + eps) + weightDecay * p[i];
            p[i] -= lr * update;
            m[i] = mi;
            v[i] = vi;
        }
    }

    /// <summary>Σ g² over a span, in double, for global-norm gradient clipping. Callers sum spans in a fixed order.</summary>
    public static double SumOfSquares(ReadOnlySpan<float> g)
    {
        double total = 0;
        const int Chunk = 4096;
        for (int i = 0; i < g.Length; i += Chunk)
            total += TensorPrimitives.SumOfSquares(g.Slice(i, Math.Min(Chunk, g.Length - i)));
        return total;
    }
}
