namespace Lathe.Tensors;

// Running sums along the last axis (NeRF's transmittance: T_i = exp(−Σ_{j<i} σ_j δ_j)) and leaky ReLU. Issue #22.
public static unsafe partial class Ops
{
    /// <summary>Cumulative sum over the last axis; <paramref name="exclusive"/> leaves out each element itself
    /// (y_i = Σ_{j&lt;i} x_j, so y_0 = 0). Summed left to right in float, as torch.cumsum does on the CPU. Backward:
    /// the reversed running sum of the gradient, dx_i = Σ_{j≥i} dy_j (j &gt; i when exclusive).</summary>
    public static Tensor CumSum(Tensor x, bool exclusive = false)
    {
        if (x.Rank == 0) throw new ArgumentException("CumSum: needs rank ≥ 1, got a scalar.");
        var src = Contiguous(x);
        int cols = x.Shape[x.Rank - 1], rows = cols == 0 ? 0 : x.Length / cols;
        var y = Autograd.Tape.NewResult(x.Shape);
        float* px = src.Data, py = y.Data;
        for (int r = 0; r < rows; r++)
        {
            float* xr = px + (long)r * cols, yr = py + (long)r * cols;
            float acc = 0;
            for (int i = 0; i < cols; i++)
            {
                if (exclusive) { yr[i] = acc; acc += xr[i]; }
                else { acc += xr[i]; yr[i] = acc; }
            }
        }
        if (Record(y, &CumSumBackward, src)) { y.B0 = exclusive; y.I0 = rows; y.I1 = cols; }
        return y;
    }

    static void CumSumBackward(Tensor y)
    {
        var dx = GradOf(y.In0);
        if (dx is null) return;
        int rows = y.I0, cols = y.I1;
        bool exclusive = y.B0;
        float* g = y.Grad!.Data, d = dx.Data;
        for (int r = 0; r < rows; r++)
        {
            float* gr = g + (long)r * cols, dr = d + (long)r * cols;
            float acc = 0;
            for (int i = cols - 1; i >= 0; i--)
            {
                if (exclusive) { dr[i] += acc; acc += gr[i]; }
                else { acc += gr[i]; dr[i] += acc; }
            }
        }
    }

    /// <summary>Leaky ReLU: x for x ≥ 0, slope·x otherwise (DCGAN's discriminator). The gradient is 1 where x &gt; 0
    /// and slope elsewhere — slope at x = 0, as PyTorch's leaky_relu_backward.</summary>
    public static Tensor LeakyRelu(Tensor x, float slope)
    {
        var src = Contiguous(x);
        var y = Autograd.Tape.NewResult(x.Shape);
        float* px = src.Data, py = y.Data;
        long n = y.Length;
        for (long i = 0; i < n; i++) { float v = px[i]; py[i] = v > 0f ? v : v * slope; }
        if (Record(y, &LeakyReluBackward, src)) y.F0 = slope;
        return y;
    }

    static void LeakyReluBackward(Tensor y)
    {
        var dx = GradOf(y.In0);
        if (dx is null) return;
        float* x = y.In0!.Data, g = y.Grad!.Data, d = dx.Data;
        float slope = y.F0;
        long n = y.Length;
        for (long i = 0; i < n; i++) d[i] += x[i] > 0f ? g[i] : g[i] * slope;
    }
}
