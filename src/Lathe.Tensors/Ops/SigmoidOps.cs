namespace Lathe.Tensors;

// The sigmoid family of the preference losses (Bradley–Terry, DPO): σ, log σ and softplus, each written in the form
// that neither overflows nor loses the small tail (log σ(x) for x ≪ 0 is ≈ x, not log 0). Their inputs are one value
// per pair or per token (B or B·T elements), so plain loops over contiguous memory are enough — no kernel table entry.
public static unsafe partial class Ops
{
    const int KindSigmoid = 0, KindLogSigmoid = 1, KindSoftplus = 2;

    /// <summary>σ(x) = 1 / (1 + e^−x), elementwise. Backward: σ(x)(1 − σ(x)).</summary>
    public static Tensor Sigmoid(Tensor x) => SigmoidFamily(x, KindSigmoid);

    /// <summary>log σ(x) = min(x, 0) − log1p(e^−|x|), elementwise (stable for any x). Backward: σ(−x).</summary>
    public static Tensor LogSigmoid(Tensor x) => SigmoidFamily(x, KindLogSigmoid);

    /// <summary>softplus(x) = log(1 + eˣ) = max(x, 0) + log1p(e^−|x|), elementwise. Backward: σ(x).</summary>
    public static Tensor Softplus(Tensor x) => SigmoidFamily(x, KindSoftplus);

    static Tensor SigmoidFamily(Tensor x, int kind)
    {
        var src = Contiguous(x);
        var y = Autograd.Tape.NewResult(x.Shape);
        float* px = src.Data, py = y.Data;
        long n = y.Length;
        for (long i = 0; i < n; i++)
        {
            float v = px[i];
            py[i] = kind switch
            {
                KindSigmoid => SigmoidOf(v),
                KindLogSigmoid => MathF.Min(v, 0f) - Log1pExpNegAbs(v),
                _ => MathF.Max(v, 0f) + Log1pExpNegAbs(v),
            };
        }
        if (Record(y, &SigmoidFamilyBackward, src)) y.I0 = kind;
        return y;
    }

    static void SigmoidFamilyBackward(Tensor y)
    {
        var dx = GradOf(y.In0);
        if (dx is null) return;
        float* px = y.In0!.Data, py = y.Data, g = y.Grad!.Data, d = dx.Data;
        long n = y.Length;
        switch (y.I0)
        {
            case KindSigmoid: for (long i = 0; i < n; i++) d[i] += g[i] * py[i] * (1f - py[i]); break;
            case KindLogSigmoid: for (long i = 0; i < n; i++) d[i] += g[i] * SigmoidOf(-px[i]); break;
            default: for (long i = 0; i < n; i++) d[i] += g[i] * SigmoidOf(px[i]); break;
        }
    }

    /// <summary>σ(v) without overflow: e^−|v| ≤ 1 always, and the branch picks the form whose division is exact
    /// in the tail (σ(−30) comes out as e^−30, not 1 − 1).</summary>
    static float SigmoidOf(float v)
    {
        float e = MathF.Exp(-MathF.Abs(v));
        return v >= 0f ? 1f / (1f + e) : e / (1f + e);
    }

    /// <summary>log(1 + e^−|v|) in double: 1 + u rounds by ~1e-16 absolute, far below float's ulp of the result for
    /// u ≥ 1e-8; below that log1p(u) = u to float precision.</summary>
    static float Log1pExpNegAbs(float v)
    {
        double u = Math.Exp(-Math.Abs((double)v));
        return (float)(u < 1e-8 ? u : Math.Log(1.0 + u));
    }
}
