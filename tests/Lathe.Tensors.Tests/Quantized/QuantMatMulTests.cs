using System.Runtime.Intrinsics.X86;
using System.Runtime.InteropServices;
using Lathe.Tensors.Kernels;
using Lathe.Tensors.Quantized;
using Lathe.Tensors.Threading;
using Lathe.Tensors.Tests.Kernels;

namespace Lathe.Tensors.Tests.Quantized;

/// <summary><see cref="QuantMatMul"/> against its scalar twin and against a float64 product of the weights and
/// activations decoded by the reference quantizers (<see cref="Q8_0"/>, <see cref="Q4_0"/>, <see cref="Half"/>).</summary>
public unsafe class QuantMatMulTests
{
    public static IEnumerable<object[]> Cases()
    {
        foreach (var type in new[] { QuantType.Q8_0, QuantType.Q4_0, QuantType.F16 })
            foreach (int k in new[] { 32, 64, 96, 160, 288, 512, 1024, 4096 })
                foreach (int m in new[] { 1, 3, 17 })
                    yield return [type, m, k, k >= 1024 ? 63 : 129];
        foreach (int k in new[] { 1, 7, 33, 250 }) yield return [QuantType.F16, 3, k, 17];
        yield return [QuantType.Q4_0, 1, 512, 1001];   // many chunks on the pool
        // Prompt-sized M: F16 panels of W decoded for the F32 GEMM (several panels when N is large); Q types with N not a
        // multiple of 16 stay on the matvec kernels.
        foreach (var type in new[] { QuantType.Q8_0, QuantType.Q4_0, QuantType.F16 })
        {
            yield return [type, QuantMatMul.PanelGemmRows, 96, 33];
            yield return [type, 37, 4096, 129];
        }
        yield return [QuantType.Q8_0, 5, 64, 1];
        // Q4_0 prompts with N a multiple of 16: the packed integer GEMM (odd group counts pad a group; M not a multiple of 4).
        yield return [QuantType.Q4_0, 32, 96, 48];
        yield return [QuantType.Q4_0, 37, 4096, 128];
        yield return [QuantType.Q4_0, 130, 512, 64];
        yield return [QuantType.Q4_0, 33, 1408, 16];
        // Single tokens and short prompts with N a multiple of 16: the packed GEMMs' one-row and four/six-row tiles.
        foreach (var type in new[] { QuantType.Q8_0, QuantType.Q4_0 })
        {
            yield return [type, 1, 512, 64];
            yield return [type, 3, 96, 16];
            yield return [type, 17, 1408, 48];
        }
        // Q8_0 prompts with N a multiple of 16: the packed VNNI GEMM (M not a multiple of 6).
        yield return [QuantType.Q8_0, 32, 96, 48];
        yield return [QuantType.Q8_0, 37, 4096, 128];
        yield return [QuantType.Q8_0, 130, 512, 64];
        yield return [QuantType.Q8_0, 33, 1408, 16];
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Fast_kernel_matches_twin_and_float64_reference(QuantType type, int m, int k, int n)
    {
        var wf = TestData.Uniform((long)n * k, 1000 + k + n, -0.5f, 0.5f);
        var x = TestData.Uniform((long)m * k, 2000 + k + m, -2f, 2f);
        if (k >= 32) { wf[0] = 0; x[0] = 0; for (int i = 0; i < 32; i++) x[i] = 0; }   // an all-zero activation block (d = 0)
        using var w = QuantizedMatrix.FromFloat(wf, n, k, type);
        var fast = new float[(long)m * n];
        var twin = new float[(long)m * n];
        var scratch = new byte[QuantMatMul.ScratchBytes(type, m, k) + 1];
        fixed (float* px = x, pf = fast, pt = twin)
        fixed (byte* ps = scratch)
        {
            QuantMatMul.Forward(px, m, k, w, pf, ps);
            QuantMatMulReference.Scalar(px, m, k, w.Data, type, n, pt);
        }

        // Reference: decode W with the reference dequantizers; for Q types quantize-dequantize x the same way.
        // The F16 panel path (M ≥ PanelGemmRows) multiplies F32 activations; for Q types every path quantizes them.
        bool packed = QuantMatMul.UsesPacked(type, m, n);
        if (n % 16 == 0 && type == QuantType.Q4_0) Assert.Equal(Q4PackedGemm.IsSupported, packed);
        if (n % 16 == 0 && type == QuantType.Q8_0) Assert.Equal(Q8PackedGemm.IsSupported, packed);
        bool panel = type == QuantType.F16 && m >= QuantMatMul.PanelGemmRows;
        var xr = (float[])x.Clone();
        if (type != QuantType.F16 && !panel)
        {
            var blocks = new byte[Q8_0.Bytes(x.Length)];
            Q8_0.Quantize(x, blocks);
            Q8_0.Dequantize(blocks, xr);
        }
        var row = new float[k];
        int nb = Math.Max(1, k / 32);
        var amax = new double[(k + 31) / 32];
        for (int j = 0; j < n; j++)
        {
            w.DequantizeRow(j, row);
            for (int b = 0; b < amax.Length; b++)
            {
                amax[b] = 0;
                for (int i = b * 32; i < Math.Min(k, b * 32 + 32); i++) amax[b] = Math.Max(amax[b], Math.Abs(row[i]));
            }
            for (int r = 0; r < m; r++)
            {
                double sum = 0, abs = 0;
                for (int i = 0; i < k; i++)
                {
                    double p = (double)row[i] * xr[(long)r * k + i];
                    sum += p;
                    // Q4_0 matvec sums unsigned nibbles u·x and subtracts 8·Σx per block: its terms reach
                    // (|w| + 8|d_w|)·|x|, and 8|d_w| is the block's largest |w| (that value is stored as q = 0).
                    abs += type == QuantType.Q4_0 && !panel ? (Math.Abs(row[i]) + amax[i / 32]) * Math.Abs(xr[(long)r * k + i]) : Math.Abs(p);
                }
                // Q matvec: float32 accumulation over ≤ nb block terms in vector lanes, each term carrying the rounding
                // of d_w·d_x: a few float ulps per term of Σ|terms| (rigorous). F16 and the panel path (F32 GEMM) sum k
                // float products in blocked vector lanes: 1e-5 of Σ|products| (the engine's fp32 reduction tolerance;
                // far below the error of a wrongly decoded block).
                double tol = (type == QuantType.F16 || panel ? 1e-5 : (nb + 4) * Math.Pow(2, -22)) * abs + 1e-30;
                float f = fast[(long)r * n + j], t = twin[(long)r * n + j];
                if (!panel) Assert.True(Math.Abs(t - sum) <= tol, $"{type} m={m} k={k} n={n}: twin y[{r},{j}] = {t}, float64 reference {sum} (tol {tol})");
                Assert.True(Math.Abs(f - sum) <= tol, $"{type} m={m} k={k} n={n}: fast y[{r},{j}] = {f}, float64 reference {sum} (tol {tol})");
            }
        }
    }

    [Fact]
    public void Activation_quantization_is_ggml_quantize_row_q8_0()
    {
        foreach (int k in new[] { 32, 96, 1024 })
        {
            var x = TestData.Uniform(3 * k, k, -3f, 3f);
            x[5] = 0.5f * (2f * 3f / 127f);    // values near rounding ties
            for (int i = 32; i < 64 && i < x.Length; i++) x[i] = 0;
            var q = new sbyte[x.Length];
            var d = new float[x.Length / 32];
            fixed (float* px = x) fixed (sbyte* pq = q) fixed (float* pd = d)
                QuantMatMul.QuantizeActivations(px, 3, k, pq, pd);
            var blocks = new byte[Q8_0.Bytes(x.Length)];
            Q8_0.Quantize(x, blocks);
            for (int b = 0; b < d.Length; b++)
            {
                Assert.Equal((float)BitConverter.ToHalf(blocks, b * Q8_0.BlockBytes), d[b]);
                for (int i = 0; i < 32; i++) Assert.Equal((sbyte)blocks[b * Q8_0.BlockBytes + 2 + i], q[b * 32 + i]);
            }
        }
    }

    [Fact]
    public void Packed_gemm_quantizes_activations_with_the_bits_of_the_scalar_quantizer()
    {
        // The vector quantizer needs AVX-512; without it the packed GEMMs are never taken (asserted), and the scalar
        // quantizer is tested above.
        if (!Avx512F.IsSupported) { Assert.False(QuantMatMul.UsesPacked(QuantType.Q4_0, 32, 64) || QuantMatMul.UsesPacked(QuantType.Q8_0, 32, 64)); return; }
        foreach (int k in new[] { 32, 96, 1024 })
        {
            var x = TestData.Uniform(k, 7 * k, -3f, 3f);
            // A block whose scale is exactly 1 (max |x| = 127): every half-integer is a rounding tie.
            for (int i = 0; i < 32; i++) x[i] = i == 0 ? 127f : (i % 2 == 0 ? 1 : -1) * (i * 3.5f + 0.5f) % 127f;
            if (k > 32) for (int i = 32; i < 64; i++) x[i] = 0;   // an all-zero block (d = 0)
            int nb = k / 32;
            var q = new sbyte[k]; var d = new float[nb];
            var qv = new sbyte[k]; var dv = new float[nb]; var c = new int[nb];
            fixed (float* px = x) fixed (sbyte* pq = q, pqv = qv) fixed (float* pd = d, pdv = dv) fixed (int* pc = c)
            {
                QuantMatMul.QuantizeActivations(px, 1, k, pq, pd);
                PackedActivations.QuantizeRow(px, nb, (byte*)pqv, pdv, pc);
            }
            Assert.Equal(q, qv);
            Assert.Equal(d, dv);
            // Offset binary (the Q8_0 GEMM's unsigned operand): the same quants plus 128.
            var qo = new byte[k];
            fixed (float* px = x) fixed (byte* pqo = qo) fixed (float* pdv = dv) fixed (int* pc = c)
                PackedActivations.QuantizeRow(px, nb, pqo, pdv, null, offsetBinary: true);
            for (int i = 0; i < k; i++) Assert.Equal(q[i] + 128, qo[i]);
            for (int b = 0; b < nb; b++)
            {
                int low = 0, high = 0;
                for (int i = 0; i < 32; i++) { if (i % 4 < 2) low += q[b * 32 + i]; else high += q[b * 32 + i]; }
                Assert.Equal((short)(-8 * low), (short)c[b]);
                Assert.Equal((short)(-8 * high), (short)(c[b] >> 16));
            }
        }
    }

    [Fact]
    public void Packed_gemm_block_sums_are_exact_at_the_int16_extremes()
    {
        if (!Q4PackedGemm.IsSupported) { Assert.False(QuantMatMul.UsesPacked(QuantType.Q4_0, 32, 32)); return; }   // the matvec path, tested above
        // Every weight nibble 0 (value −8) or 15 (value 7) against activations of ±127: the int16 lanes wrap on the
        // way and must still land on the exact block sums. Weights are built from bytes so no quantizer rounds them.
        const int n = 32, k = 64, m = 4;
        var bytes = new byte[n * 2 * Q4_0.BlockBytes];
        var rng = new Random(5);
        for (int row = 0; row < n; row++)
            for (int b = 0; b < 2; b++)
            {
                int o = (row * 2 + b) * Q4_0.BlockBytes;
                BitConverter.TryWriteBytes(bytes.AsSpan(o), (Half)1f);
                for (int i = 0; i < 16; i++)
                    bytes[o + 2 + i] = row == 0 ? (byte)0x00 : row == 1 ? (byte)0xFF : (byte)(rng.Next(2) == 0 ? 0x00 : rng.Next(2) == 0 ? 0xFF : 0xF0);
            }
        var x = new float[m * k];
        // Scale 1, quants ±127; rows 0 and 1 all +127 and all −127 meet weight rows 0 and 1 at every lane's extreme.
        for (int i = 0; i < x.Length; i++) x[i] = i < k ? 127f : i < 2 * k ? -127f : rng.Next(2) == 0 ? 127f : -127f;
        using var w = QuantizedMatrix.FromBytes(bytes, n, k, QuantType.Q4_0);
        AssertPackedProductExact(w, x, m);
    }

    // A prompt-sized product through the packed GEMM (x's m rows padded with zeros to PanelGemmRows) equals the float64
    // product of the decoded weights and x exactly: every value here is a small integer, so float holds the sums.
    static void AssertPackedProductExact(QuantizedMatrix w, float[] x, int m)
    {
        int n = w.Rows, k = w.Columns, rows = Math.Max(m, QuantMatMul.PanelGemmRows);
        var xs = new float[rows * k];
        Array.Copy(x, xs, m * k);
        var ys = new float[rows * n];
        var scratch = new byte[QuantMatMul.ScratchBytes(w.Type, rows, k)];
        fixed (float* px = xs, py = ys) fixed (byte* ps = scratch)
            QuantMatMul.Forward(px, rows, k, w, py, ps);
        var decoded = new float[k];
        for (int j = 0; j < n; j++)
        {
            w.DequantizeRow(j, decoded);
            for (int r = 0; r < m; r++)
            {
                double sum = 0;
                for (int i = 0; i < k; i++) sum += decoded[i] * x[r * k + i];
                Assert.Equal(sum, ys[r * n + j]);
            }
        }
    }

    [Fact]
    public void Packed_q8_gemm_block_sums_are_exact_at_the_extremes()
    {
        if (!Q8PackedGemm.IsSupported) { Assert.False(QuantMatMul.UsesPacked(QuantType.Q8_0, 32, 16)); return; }   // the matvec path, tested above
        // Weights −128 (a file may hold it though ggml's quantizer never writes it) and 127 against activations of
        // ±127 (scale 1): the offset q + 128 and the −128·Σw start must cancel exactly.
        const int n = 16, k = 64, m = QuantMatMul.PanelGemmRows;
        var bytes = new byte[n * 2 * Q8_0.BlockBytes];
        var rng = new Random(9);
        for (int row = 0; row < n; row++)
            for (int b = 0; b < 2; b++)
            {
                int o = (row * 2 + b) * Q8_0.BlockBytes;
                BitConverter.TryWriteBytes(bytes.AsSpan(o), (Half)1f);
                for (int i = 0; i < 32; i++)
                    bytes[o + 2 + i] = row == 0 ? (byte)0x80 : row == 1 ? (byte)127 : (byte)rng.Next(256);
            }
        var x = new float[m * k];
        for (int i = 0; i < x.Length; i++) x[i] = i < k ? -127f : i < 2 * k ? 127f : rng.Next(2) == 0 ? 127f : -127f;
        using var w = QuantizedMatrix.FromBytes(bytes, n, k, QuantType.Q8_0);
        AssertPackedProductExact(w, x, m);
    }

    [Theory]
    [InlineData(QuantType.Q4_0)]
    [InlineData(QuantType.Q8_0)]
    public void Packed_rows_have_the_same_bits_whatever_the_row_count(QuantType type)
    {
        // Every tile (Q8_0: six, four, one row; Q4_0: four, one) does a row's arithmetic the same way, so row r of a
        // product over m rows equals the one-row product of row r: a decoding step's rows do not depend on the batch.
        if (type == QuantType.Q4_0 ? !Q4PackedGemm.IsSupported : !Q8PackedGemm.IsSupported) return;
        const int n = 64, k = 256, most = 17;
        using var w = QuantizedMatrix.FromFloat(TestData.Uniform((long)n * k, 61, -0.5f, 0.5f), n, k, type);
        var x = TestData.Uniform((long)most * k, 62, -2f, 2f);
        float[] Product(int m, int first)
        {
            var y = new float[m * n];
            var scratch = new byte[QuantMatMul.ScratchBytes(type, m, k)];
            fixed (float* px = x, py = y) fixed (byte* ps = scratch)
                QuantMatMul.Forward(px + (long)first * k, m, k, w, py, ps);
            return y;
        }
        var alone = Enumerable.Range(0, most).Select(r => Product(1, r)).ToArray();
        for (int m = 2; m <= most; m++)
        {
            var y = Product(m, 0);
            for (int r = 0; r < m; r++) Assert.Equal(alone[r], y.AsSpan(r * n, n).ToArray());
        }
    }

    [Theory]
    [InlineData(QuantType.Q4_0, 1)]
    [InlineData(QuantType.Q4_0, 37)]
    [InlineData(QuantType.Q8_0, 1)]
    [InlineData(QuantType.Q8_0, 2)]
    [InlineData(QuantType.Q8_0, 37)]
    public void Packed_gemms_give_the_same_bits_on_one_and_two_threads(QuantType type, int m)
    {
        if (type == QuantType.Q4_0 ? !Q4PackedGemm.IsSupported : !Q8PackedGemm.IsSupported) { Assert.False(QuantMatMul.UsesPacked(type, m, 96)); return; }
        const int n = 96, k = 512;
        using var w = QuantizedMatrix.FromFloat(TestData.Uniform((long)n * k, 51, -0.5f, 0.5f), n, k, type);
        var x = TestData.Uniform((long)m * k, 52, -2f, 2f);
        float[] Run(int threads)
        {
            using var pool = new ComputePool(threads);
            var y = new float[m * n];
            var scratch = new byte[QuantMatMul.ScratchBytes(type, m, k)];
            fixed (float* px = x, py = y) fixed (byte* ps = scratch)
            {
                if (type == QuantType.Q4_0) Q4PackedGemm.Forward(px, m, k, w.PackedQ4, n, py, ps, pool);
                else Q8PackedGemm.Forward(px, m, k, w.PackedQ8, n, py, ps, pool);
            }
            return y;
        }
        Assert.Equal(Run(1), Run(2));
    }

    [Fact]
    public void Half_bits_convert_exactly_for_every_pattern()
    {
        for (int bits = 0; bits < 65536; bits++)
        {
            float expected = (float)BitConverter.UInt16BitsToHalf((ushort)bits), actual = HalfBits.ToSingle((ushort)bits);
            if (float.IsNaN(expected)) Assert.True(float.IsNaN(actual), $"half 0x{bits:X4} should be NaN");
            else Assert.Equal(BitConverter.SingleToUInt32Bits(expected), BitConverter.SingleToUInt32Bits(actual));
        }
    }

    [Fact]
    public void F16_weights_with_specials_widen_like_Half_in_the_vector_path()
    {
        // Every finite half magnitude class (zero, subnormal, normal, max) through the SIMD widening (infinities are covered by the scalar conversion test: here inf·0 in other lanes would be NaN).
        ushort[] bits = [0x0000, 0x8000, 0x0001, 0x03FF, 0x0400, 0x3C00, 0xBC00, 0x7BFF, 0xFBFF, 0x0200, 0x83FF, 0x3555, 0x8201, 0x4248, 0x1234, 0x5678];
        var x = new float[16];
        fixed (ushort* pb = bits) fixed (float* px = x)
            for (int i = 0; i < 16; i++)
            {
                Array.Clear(x); x[i] = 1f;
                float y;
                QuantMatMul.Forward(px, 1, 16, (byte*)pb, QuantType.F16, 1, &y, null);
                Assert.Equal((float)BitConverter.UInt16BitsToHalf(bits[i]), y);
            }
    }

    [Fact]
    public void Bad_arguments_are_rejected_with_the_dims()
    {
        using var w = QuantizedMatrix.FromFloat(new float[4 * 64], 4, 64, QuantType.Q8_0);
        var e = Assert.Throws<ArgumentException>(() => Call(1, 48, w, QuantType.Q8_0, scratch: true));
        Assert.Contains("k=48", e.Message);
        Assert.Throws<ArgumentException>(() => Call(1, 64, w, QuantType.Q4_0, scratch: false));
        Assert.Throws<ArgumentException>(() => Call(-1, 64, w, QuantType.Q4_0, scratch: true));
    }

    static void Call(int m, int k, QuantizedMatrix w, QuantType type, bool scratch)
    {
        var x = new float[64];
        var y = new float[4];
        var s = new byte[4096];
        fixed (float* px = x, py = y) fixed (byte* ps = s)
            QuantMatMul.Forward(px, m, k, w.Data, type, 4, py, scratch ? ps : null);
    }
}
