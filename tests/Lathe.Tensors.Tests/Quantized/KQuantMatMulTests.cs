using Lathe.Tensors.Kernels;
using Lathe.Tensors.Quantized;
using Lathe.Tensors.Threading;
using Lathe.Tensors.Tests.Kernels;

namespace Lathe.Tensors.Tests.Quantized;

/// <summary><see cref="KQuantMatMul"/> (SIMD) against its scalar twin <see cref="KQuantDotReference"/> bit for bit, and
/// both against a float64 product of the weights decoded by <see cref="KBlocks"/> (tested bit-exact against ggml) and
/// the Q8_K activations decoded as d·q. Weights are random bytes with finite fp16 scales: every bit pattern is a valid
/// k-quant block, so every code and scale value is reached (Q6_K scale −128, Q3_K scale −32) without a quantizer.</summary>
public unsafe class KQuantMatMulTests
{
    static readonly QuantType[] Types = [QuantType.Q2_K, QuantType.Q3_K, QuantType.Q4_K, QuantType.Q5_K, QuantType.Q6_K];

    public static IEnumerable<object[]> Cases()
    {
        foreach (var type in Types)
        {
            foreach (var (m, k, n) in new[] { (1, 256, 1), (1, 512, 7), (1, 1536, 33), (2, 256, 5), (3, 768, 17), (4, 256, 16),
                                               (5, 512, 9), (17, 1536, 40), (70, 256, 3), (4, 768, 300) })
                yield return [type, m, k, n];
        }
    }

    /// <summary>Random k-quant rows: random bytes, then each super-block's d (and dmin) set to a finite fp16 in ±scale.</summary>
    internal static byte[] RandomBlocks(QuantType type, int n, int k, int seed, float scale = 0.01f)
    {
        var rng = new Random(seed);
        int bb = QuantTypes.BlockBytes(type), blocks = n * (k / 256);
        var bytes = new byte[blocks * bb];
        rng.NextBytes(bytes);
        int[] offsets = type switch
        {
            QuantType.Q2_K => [KBlocks.Q2D, KBlocks.Q2DMin],
            QuantType.Q3_K => [KBlocks.Q3D],
            QuantType.Q4_K or QuantType.Q5_K => [KBlocks.Q4D, KBlocks.Q4DMin],
            _ => [KBlocks.Q6D],
        };
        for (int b = 0; b < blocks; b++)
            foreach (int o in offsets)
                BitConverter.TryWriteBytes(bytes.AsSpan(b * bb + o), (Half)(scale * (2 * rng.NextSingle() - 1)));
        return bytes;
    }

    static float[] Run(QuantType type, byte[] w, float[] x, int m, int k, int n, ComputePool? pool = null)
    {
        var y = new float[(long)m * n];
        var scratch = new byte[KQuantMatMul.ScratchBytes(type, m, k)];
        fixed (float* px = x, py = y) fixed (byte* pw = w, ps = scratch)
            KQuantMatMul.Forward(px, m, k, pw, type, n, py, ps, pool);
        return y;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Fast_kernel_matches_twin_bit_for_bit_and_float64_reference(QuantType type, int m, int k, int n)
    {
        var w = RandomBlocks(type, n, k, 100 + k + n);
        var x = TestData.Uniform((long)m * k, 200 + m + k, -2f, 2f);
        for (int i = 0; i < 256; i++) x[i] = 0;   // an all-zero activation block (d = 0)
        var fast = Run(type, w, x, m, k, n);
        var twin = new float[(long)m * n];
        fixed (float* px = x, pt = twin) fixed (byte* pw = w)
            KQuantDotReference.Scalar(px, m, k, pw, type, n, pt);
        for (int i = 0; i < fast.Length; i++)
            Assert.True(BitConverter.SingleToUInt32Bits(fast[i]) == BitConverter.SingleToUInt32Bits(twin[i]),
                $"{type} m={m} k={k} n={n}: fast y[{i / n},{i % n}] = {fast[i]}, twin {twin[i]}");
        AssertNearFloat64(type, w, x, m, k, n, fast);
    }

    /// <summary>|y − Σ w·x (float64)| ≤ (nb + 8)·2⁻²⁴·Σ|x|·(|w| + 2·|dmin|·63): per super-block the kernel rounds
    /// A and B to float, multiplies by d_x·d and d_x·dmin (two roundings each), subtracts (one), then adds nb terms;
    /// each term d·s·u·x and dmin·m·x is bounded by |w·x| plus the min part |dmin·m·x| ≤ |dmin|·63·|x| that cancels
    /// inside w. A wrong code or scale anywhere shifts y by ≈ |d·s·x|, orders of magnitude above this.</summary>
    static void AssertNearFloat64(QuantType type, byte[] w, float[] x, int m, int k, int n, float[] y)
    {
        int nb = k / 256, bb = QuantTypes.BlockBytes(type);
        var xq = new float[x.Length];
        var q8 = new byte[x.Length / 256 * Q8_K.BlockBytes];
        Q8_K.Quantize(x, q8);
        for (int b = 0; b < x.Length / 256; b++)
        {
            float d = BitConverter.ToSingle(q8, b * Q8_K.BlockBytes);
            for (int i = 0; i < 256; i++) xq[b * 256 + i] = d * (sbyte)q8[b * Q8_K.BlockBytes + 4 + i];   // exact: |q| < 2⁸
        }
        var row = new float[k];
        for (int j = 0; j < n; j++)
        {
            BlockCodec.Dequantize(type, w.AsSpan(j * nb * bb, nb * bb), row);
            for (int r = 0; r < m; r++)
            {
                double sum = 0, abs = 0;
                for (int i = 0; i < k; i++)
                {
                    int blk = j * nb + i / 256;
                    double dmin = type is QuantType.Q2_K ? (double)BitConverter.ToHalf(w, blk * bb + KBlocks.Q2DMin)
                        : type is QuantType.Q4_K or QuantType.Q5_K ? (double)BitConverter.ToHalf(w, blk * bb + KBlocks.Q4DMin) : 0;
                    double xv = xq[(long)r * k + i];
                    sum += row[i] * xv;
                    abs += Math.Abs(xv) * (Math.Abs(row[i]) + 2 * Math.Abs(dmin) * 63);
                }
                double tol = (nb + 8) * Math.Pow(2, -24) * abs + 1e-30;
                float f = y[(long)r * n + j];
                Assert.True(Math.Abs(f - sum) <= tol, $"{type} m={m} k={k} n={n}: y[{r},{j}] = {f}, float64 reference {sum} (tol {tol})");
            }
        }
    }

    [Theory]
    [InlineData(QuantType.Q2_K)]
    [InlineData(QuantType.Q3_K)]
    [InlineData(QuantType.Q4_K)]
    [InlineData(QuantType.Q5_K)]
    [InlineData(QuantType.Q6_K)]
    public void Any_thread_count_and_any_batch_give_the_same_bits(QuantType type)
    {
        const int m = 37, k = 1024, n = 96;
        var w = RandomBlocks(type, n, k, 7);
        var x = TestData.Uniform((long)m * k, 8, -1f, 1f);
        float[] one, three;
        using (var pool = new ComputePool(1)) one = Run(type, w, x, m, k, n, pool);
        using (var pool = new ComputePool(3)) three = Run(type, w, x, m, k, n, pool);
        Assert.Equal(one, three);
        // A single token sees the rounding it sees inside a prompt (row 5 of 37, and a group of 4 rows).
        Assert.Equal(one.AsSpan(5 * n, n).ToArray(), Run(type, w, x.AsSpan(5 * k, k).ToArray(), 1, k, n));
        Assert.Equal(one.AsSpan(8 * n, 4 * n).ToArray(), Run(type, w, x.AsSpan(8 * k, 4 * k).ToArray(), 4, k, n));
    }

    [Fact]
    public void Extreme_codes_scales_and_activations_do_not_saturate()
    {
        // Every code at its largest (all bits set) with the largest scales, against activations of +127 and −127 in
        // turn: the int16 pair sums and int32 lanes at their limits. Float64 reference as above.
        const int k = 512, n = 3, m = 4;
        foreach (var type in Types)
        {
            int bb = QuantTypes.BlockBytes(type);
            var w = new byte[n * (k / 256) * bb];
            Array.Fill(w, (byte)0xFF);
            for (int b = 0; b < w.Length / bb; b++)
            {
                var blk = w.AsSpan(b * bb, bb);
                switch (type)
                {
                    case QuantType.Q2_K: BitConverter.TryWriteBytes(blk[KBlocks.Q2D..], (Half)0.01f); BitConverter.TryWriteBytes(blk[KBlocks.Q2DMin..], (Half)0.02f); break;
                    case QuantType.Q3_K: BitConverter.TryWriteBytes(blk[KBlocks.Q3D..], (Half)0.01f); if (b == 1) blk.Slice(KBlocks.Q3Scales, 12).Clear(); break;   // scales −32
                    case QuantType.Q4_K or QuantType.Q5_K: BitConverter.TryWriteBytes(blk[KBlocks.Q4D..], (Half)0.01f); BitConverter.TryWriteBytes(blk[KBlocks.Q4DMin..], (Half)(-0.02f)); break;
                    default:
                        BitConverter.TryWriteBytes(blk[KBlocks.Q6D..], (Half)0.01f);
                        if (b == 1) blk.Slice(KBlocks.Q6Scales, 16).Fill(0x80);   // scales −128
                        if (b == 2) blk[..KBlocks.Q6Scales].Clear();              // codes 0 (values −32)
                        break;
                }
            }
            var x = new float[m * k];
            for (int i = 0; i < x.Length; i++) x[i] = (i / k) switch { 0 => 1f, 1 => -1f, 2 => i % 2 == 0 ? 1f : -1f, _ => (i % 7) - 3f };
            var fast = Run(type, w, x, m, k, n);
            var twin = new float[m * n];
            fixed (float* px = x, pt = twin) fixed (byte* pw = w)
                KQuantDotReference.Scalar(px, m, k, pw, type, n, pt);
            Assert.Equal(twin, fast);
            AssertNearFloat64(type, w, x, m, k, n, fast);
        }
    }

    [Fact]
    public void Bad_shapes_are_rejected()
    {
        static void Call(int k, QuantType type, bool scratch)
        {
            var y = new float[1];
            var x = new float[300];
            var w = new byte[210];
            fixed (float* px = x, py = y) fixed (byte* pw = w)
                KQuantMatMul.Forward(px, 1, k, pw, type, 1, py, scratch ? pw : null);
        }
        Assert.Throws<ArgumentException>(() => Call(300, QuantType.Q4_K, true));    // k not a multiple of 256
        Assert.Throws<ArgumentException>(() => Call(256, QuantType.Q4_K, false));   // no scratch
        Assert.Throws<ArgumentException>(() => Call(256, QuantType.Q8_0, true));    // not a k-quant
    }
}
