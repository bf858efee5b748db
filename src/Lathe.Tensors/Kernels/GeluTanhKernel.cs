using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Lathe.Tensors.Kernels;

/// <summary>GPT-2's tanh GELU, y = ½x(1 + tanh u) with u = √(2/π)(x + 0.044715x³), in one pass over registers. It uses
/// ½(1 + tanh u) = σ(2u) = 1/(1 + e^(−2u)): one exponential and one division per value, no cancellation near u = 0, and
/// the tails saturate correctly (e^(−2u) → ∞ gives σ = 0, → 0 gives σ = 1). The derivative follows from the same σ:
/// ½(1 − tanh²u) = 2σ(1 − σ), so GELU′(x) = σ + 2x·σ(1 − σ)·√(2/π)(1 + 3·0.044715x²). Nine TensorPrimitives passes per
/// direction before; this is one. Twin: <see cref="UnaryKernels"/>; called per chunk by <see cref="ElementwiseKernels"/>
/// where 512-bit vectors exist.</summary>
internal static unsafe class GeluTanhKernel
{
    const float C = 0.7978845608028654f, A = 0.044715f;

    public static void Forward(float* x, float* y, int n)
    {
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            var v = Vector512.Load(x + i);
            (v * Sigma(v)).Store(y + i);
        }
        for (; i < n; i++) y[i] = x[i] * Sigma(x[i]);
    }

    /// <summary>dx += dy·GELU′(x).</summary>
    public static void Backward(float* x, float* dy, float* dx, int n)
    {
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            var v = Vector512.Load(x + i);
            var s = Sigma(v);
            var slope = Vector512.Create(2f * C) * (Vector512<float>.One + Vector512.Create(3f * A) * v * v);
            var d = s + v * s * (Vector512<float>.One - s) * slope;
            Vector512.FusedMultiplyAdd(Vector512.Load(dy + i), d, Vector512.Load(dx + i)).Store(dx + i);
        }
        for (; i < n; i++)
        {
            float v = x[i], s = Sigma(v);
            dx[i] += dy[i] * (s + v * s * (1f - s) * 2f * C * (1f + 3f * A * v * v));
        }
    }

    // σ(2u) = ½(1 + tanh u), u = C(x + A x³).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Sigma(Vector512<float> x)
    {
        var twoU = Vector512.Create(2f * C) * x * (Vector512<float>.One + Vector512.Create(A) * x * x);
        return Vector512<float>.One / (Vector512<float>.One + FloatExp.Exp512(-twoU));
    }

    static float Sigma(float x) => 1f / (1f + MathF.Exp(-2f * C * x * (1f + A * x * x)));
}
