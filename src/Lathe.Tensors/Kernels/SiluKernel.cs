using System.Runtime.Intrinsics;

namespace Lathe.Tensors.Kernels;

/// <summary>SiLU, y = x·σ(x), and Llama's SwiGLU, y = silu(g)·u, in one register pass each way (σ = 1/(1 + e^(−x)),
/// saturating correctly in both tails). Derivatives: silu′(x) = σ(1 + x(1 − σ)); for SwiGLU dg += dy·u·silu′(g) and
/// du += dy·silu(g). Twin: <see cref="UnaryKernels"/>; called per chunk by <see cref="ElementwiseKernels"/> where
/// 512-bit vectors exist (before: a sigmoid pass, then scalar loops).</summary>
internal static unsafe class SiluKernel
{
    public static void Forward(float* x, float* u, float* y, int n)
    {
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            var v = Vector512.Load(x + i);
            var s = v * Sigmoid(v);
            if (u != null) s *= Vector512.Load(u + i);
            s.Store(y + i);
        }
        for (; i < n; i++)
        {
            float s = x[i] * Sigmoid(x[i]);
            y[i] = u != null ? s * u[i] : s;
        }
    }

    /// <summary>dx += dy·∂y/∂x and, for SwiGLU (<paramref name="u"/> given), du += dy·silu(x); either gradient may be null.</summary>
    public static void Backward(float* x, float* u, float* dy, float* dx, float* du, int n)
    {
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            var v = Vector512.Load(x + i);
            var s = Sigmoid(v);
            var g = Vector512.Load(dy + i);
            if (u != null)
            {
                if (du != null) Vector512.FusedMultiplyAdd(g, v * s, Vector512.Load(du + i)).Store(du + i);
                g *= Vector512.Load(u + i);
            }
            if (dx != null)
                Vector512.FusedMultiplyAdd(g, s * (Vector512<float>.One + v * (Vector512<float>.One - s)), Vector512.Load(dx + i)).Store(dx + i);
        }
        for (; i < n; i++)
        {
            float v = x[i], s = Sigmoid(v), g = dy[i];
            if (u != null)
            {
                if (du != null) du[i] += g * v * s;
                g *= u[i];
            }
            if (dx != null) dx[i] += g * s * (1f + v * (1f - s));
        }
    }

    static Vector512<float> Sigmoid(Vector512<float> x) => Vector512<float>.One / (Vector512<float>.One + FloatExp.Exp512(-x));

    static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));
}
