using System.Runtime.CompilerServices;

namespace Lathe.Tensors.Kernels;

// INTERIM scalar kernels for the unary ops, written so the op layer is complete and gradient-checked
// while the vectorized kernels are built on their own branch; the ops switch to those when they land.
internal static unsafe class UnaryKernels
{
    const float Sqrt2OverPi = 0.7978845608028654f;
    const float GeluCoeff = 0.044715f;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(int kind, float* x, float* y, int n)
    {
        for (int i = 0; i < n; i++)
        {
            float v = x[i];
            y[i] = kind switch
            {
                0 => MathF.Exp(v),
                1 => MathF.Log(v),
                2 => MathF.Tanh(v),
                3 => MathF.Sqrt(v),
                4 => 0.5f * v * (1f + MathF.Tanh(Sqrt2OverPi * (v + GeluCoeff * v * v * v))),
                5 => (float)(0.5 * v * (1.0 + Erf(v / Math.Sqrt(2.0)))),
                _ => v / (1f + MathF.Exp(-v)),
            };
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(int kind, float* x, float* y, float* dy, float* dx, int n)
    {
        for (int i = 0; i < n; i++)
        {
            float v = x[i];
            float d;
            switch (kind)
            {
                case 0: d = y[i]; break;
                case 1: d = 1f / v; break;
                case 2: d = 1f - y[i] * y[i]; break;
                case 3: d = 0.5f / y[i]; break;
                case 4:
                {
                    float u = Sqrt2OverPi * (v + GeluCoeff * v * v * v);
                    float t = MathF.Tanh(u);
                    d = 0.5f * (1f + t) + 0.5f * v * (1f - t * t) * Sqrt2OverPi * (1f + 3f * GeluCoeff * v * v);
                    break;
                }
                case 5:
                    d = (float)(0.5 * (1.0 + Erf(v / Math.Sqrt(2.0))) + v * Math.Exp(-0.5 * v * v) / Math.Sqrt(2 * Math.PI));
                    break;
                default:
                {
                    float s = 1f / (1f + MathF.Exp(-v));
                    d = s * (1f + v * (1f - s));
                    break;
                }
            }
            dx[i] += dy[i] * d;
        }
    }

    public static void SwiGluForward(float* g, float* u, float* y, int n)
    {
        for (int i = 0; i < n; i++) y[i] = g[i] / (1f + MathF.Exp(-g[i])) * u[i];
    }

    public static void SwiGluBackward(float* g, float* u, float* dy, float* dg, float* du, int n)
    {
        for (int i = 0; i < n; i++)
        {
            float s = 1f / (1f + MathF.Exp(-g[i]));
            if (du != null) du[i] += dy[i] * g[i] * s;
            if (dg != null) dg[i] += dy[i] * u[i] * s * (1f + g[i] * (1f - s));
        }
    }

    /// <summary>erf(x) to double precision by its Maclaurin series near 0 and a continued fraction for
    /// erfc in the tails (Abramowitz &amp; Stegun 7.1.5 and 7.1.14).</summary>
    public static double Erf(double x)
    {
        double ax = Math.Abs(x);
        if (ax < 2.5)
        {
            double term = ax, sum = ax, x2 = ax * ax;
            for (int k = 1; k < 60; k++)
            {
                term *= -x2 / k;
                double add = term / (2 * k + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17 * Math.Abs(sum)) break;
            }
            return Math.CopySign(2 / Math.Sqrt(Math.PI) * sum, x);
        }
        // erfc(x) = exp(-x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + …)))), evaluated bottom-up.
        double f = ax;
        for (int k = 60; k >= 1; k--) f = ax + k / 2.0 / f;
        double erfc = Math.Exp(-ax * ax) / Math.Sqrt(Math.PI) / f;
        return Math.CopySign(1 - erfc, x);
    }
}
