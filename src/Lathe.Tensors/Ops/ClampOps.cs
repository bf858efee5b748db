namespace Lathe.Tensors;

// Clamp and elementwise min/max: the pieces of PPO's clipped objectives (Schulman et al. 2017, eq. 7; the value clip of
// OpenAI baselines). Their inputs are one value per token (B·T), so plain loops over contiguous memory are enough.
public static unsafe partial class Ops
{
    /// <summary>min(max(x, lo), hi), elementwise. The gradient passes where lo ≤ x ≤ hi and is 0 where the value was
    /// moved to a bound (PyTorch's torch.clamp convention, so a value sitting exactly on a bound still learns).</summary>
    public static Tensor Clamp(Tensor x, float lo, float hi)
    {
        if (!(lo <= hi)) throw new ArgumentException($"Clamp: lo = {lo} must not exceed hi = {hi}.");
        var src = Contiguous(x);
        var y = Autograd.Tape.NewResult(x.Shape);
        float* px = src.Data, py = y.Data;
        long n = y.Length;
        for (long i = 0; i < n; i++) py[i] = MathF.Min(MathF.Max(px[i], lo), hi);
        if (Record(y, &ClampBackward, src)) { y.F0 = lo; y.F1 = hi; }
        return y;
    }

    static void ClampBackward(Tensor y)
    {
        var dx = GradOf(y.In0);
        if (dx is null) return;
        float* px = y.In0!.Data, g = y.Grad!.Data, d = dx.Data;
        float lo = y.F0, hi = y.F1;
        long n = y.Length;
        for (long i = 0; i < n; i++)
            if (px[i] >= lo && px[i] <= hi) d[i] += g[i];
    }

    /// <summary>Elementwise min of two tensors of one shape. The gradient goes to the smaller side; on a tie, to
    /// <paramref name="a"/> (PyTorch would split it in halves; the sum reaching a shared input is the same).</summary>
    public static Tensor Minimum(Tensor a, Tensor b) => Extremum("Minimum", a, b, takeMax: false);

    /// <summary>Elementwise max of two tensors of one shape. The gradient goes to the larger side; on a tie, to
    /// <paramref name="a"/>.</summary>
    public static Tensor Maximum(Tensor a, Tensor b) => Extremum("Maximum", a, b, takeMax: true);

    static Tensor Extremum(string op, Tensor a, Tensor b, bool takeMax)
    {
        RequireSameShape(op, a, b);
        var ca = Contiguous(a);
        var cb = Contiguous(b);
        var y = Autograd.Tape.NewResult(a.Shape);
        float* pa = ca.Data, pb = cb.Data, py = y.Data;
        long n = y.Length;
        for (long i = 0; i < n; i++) py[i] = PicksA(pa[i], pb[i], takeMax) ? pa[i] : pb[i];
        if (Record(y, &ExtremumBackward, ca, cb)) y.B0 = takeMax;
        return y;
    }

    /// <summary>Whether the extremum takes a's element: ties (and a NaN in b) go to a.</summary>
    static bool PicksA(float a, float b, bool takeMax) => takeMax ? !(b > a) : !(b < a);

    static void ExtremumBackward(Tensor y)
    {
        var da = GradOf(y.In0);
        var db = GradOf(y.In1);
        float* pa = y.In0!.Data, pb = y.In1!.Data, g = y.Grad!.Data;
        float* pda = da is null ? null : da.Data, pdb = db is null ? null : db.Data;
        bool takeMax = y.B0;
        long n = y.Length;
        for (long i = 0; i < n; i++)
        {
            if (PicksA(pa[i], pb[i], takeMax)) { if (pda != null) pda[i] += g[i]; }
            else if (pdb != null) pdb[i] += g[i];
        }
    }
}
