using Lathe.Tensors.Kernels;
using Lathe.Tensors.Quantized;

namespace Lathe.Tests.Tensors;

/// <summary><see cref="Bf16MatMul"/> against its scalar twin (bit for bit) and against a float64 product of the exactly
/// decoded weights (within the rounding bound k·2⁻²⁴·Σ|w·x| of any float32 summation order).</summary>
public unsafe class Bf16MatMulTests
{
    public static IEnumerable<object[]> Shapes()
    {
        // Small M (widened dot products, 1–4 rows per weight vector, K mod 32 tails), then panel GEMMs (M ≥ 32), one
        // with several panels (K = 2048 → 128 rows per panel).
        foreach (var (m, k, n) in new[] { (1, 32, 17), (3, 64, 5), (5, 1, 3), (4, 33, 9), (7, 100, 31), (1, 4096, 63), (17, 288, 40),
                                           (31, 96, 20), (32, 96, 33), (37, 520, 129), (33, 2048, 300) })
            yield return [m, k, n];
    }

    internal static (float[] X, ushort[] W) Data(int m, int k, int n, int seed)
    {
        var rng = new Random(seed);
        var x = new float[(long)m * k];
        var w = new ushort[(long)n * k];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 4 - 2);
        for (int i = 0; i < w.Length; i++) w[i] = Bf16.FromSingle((float)(rng.NextDouble() - 0.5));
        return (x, w);
    }

    internal static float[] Run(bool fast, float[] x, ushort[] w, int m, int k, int n)
    {
        var y = new float[(long)m * n];
        var scratch = new byte[Bf16MatMul.ScratchBytes(m, k) + 1];
        fixed (float* px = x, py = y)
        fixed (ushort* pw = w)
        fixed (byte* ps = scratch)
        {
            if (fast) Bf16MatMul.Forward(px, m, k, (byte*)pw, n, py, ps);
            else Bf16MatMul.ForwardReference(px, m, k, (byte*)pw, n, py, ps);
        }
        return y;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Fast_kernel_matches_twin_bits_and_float64_product(int m, int k, int n)
    {
        var (x, w) = Data(m, k, n, 100 * m + k + n);
        var fast = Run(true, x, w, m, k, n);
        var twin = Run(false, x, w, m, k, n);
        for (int i = 0; i < fast.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(fast[i]) == BitConverter.SingleToInt32Bits(twin[i]), $"y[{i}]: {fast[i]:R} vs twin {twin[i]:R}");
        for (int r = 0; r < m; r++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0, magnitude = 0;
                for (int i = 0; i < k; i++)
                {
                    double p = (double)Bf16.ToSingle(w[(long)j * k + i]) * x[(long)r * k + i];
                    sum += p;
                    magnitude += Math.Abs(p);
                }
                double bound = k * Math.Pow(2, -24) * magnitude;
                Assert.True(Math.Abs(fast[(long)r * n + j] - sum) <= bound, $"y[{r},{j}] = {fast[(long)r * n + j]:R}, float64 {sum:R}, bound {bound:E2}");
            }
    }

    [Fact]
    public void QuantMatMul_dispatches_bf16_weights_here()
    {
        const int m = 3, k = 256, n = 24;
        var (x, w) = Data(m, k, n, 5);
        var wf = w.Select(Bf16.ToSingle).ToArray();
        using var matrix = QuantizedMatrix.FromFloat(wf, n, k, QuantType.BF16);   // bf16 values survive the encode exactly
        var y = new float[m * n];
        var scratch = new byte[QuantMatMul.ScratchBytes(QuantType.BF16, m, k) + 1];
        fixed (float* px = x, py = y)
        fixed (byte* ps = scratch)
            QuantMatMul.Forward(px, m, k, matrix, py, ps);
        Assert.Equal(Run(true, x, w, m, k, n), y);
    }

    [Fact]
    public void Bad_dimensions_are_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => Call(1, 0, scratch: true));
        Assert.Contains("k=0", e.Message);
        Assert.Throws<ArgumentException>(() => Call(Bf16MatMul.PanelGemmRows, 8, scratch: false));   // panel scratch missing
    }

    static void Call(int m, int k, bool scratch)
    {
        var x = new float[Math.Max(1, m * k)];
        var w = new ushort[Math.Max(1, k)];
        var y = new float[m];
        var s = new byte[Bf16MatMul.ScratchBytes(m, Math.Max(1, k)) + 1];
        fixed (float* px = x, py = y)
        fixed (ushort* pw = w)
        fixed (byte* ps = s)
            Bf16MatMul.Forward(px, m, k, (byte*)pw, 1, py, scratch ? ps : null);
    }
}

[Collection(nameof(PoolThreads))]
public sealed class Bf16MatMulThreadTests
{
    [Theory]
    [InlineData(5, 520, 301)]
    [InlineData(40, 1024, 200)]
    public void Bits_do_not_depend_on_the_thread_count(int m, int k, int n)
    {
        var (x, w) = Bf16MatMulTests.Data(m, k, n, 77);
        var results = new List<float[]>();
        foreach (int threads in new[] { 1, 2, 5 })
            PoolThreads.With(threads, () => results.Add(Bf16MatMulTests.Run(true, x, w, m, k, n)));
        Assert.Equal(results[0], results[1]);
        Assert.Equal(results[0], results[2]);
    }
}
