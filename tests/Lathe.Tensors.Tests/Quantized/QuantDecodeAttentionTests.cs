using Lathe.Tensors.Kernels;
using Lathe.Tensors.Tests.Kernels;

namespace Lathe.Tensors.Tests.Quantized;

/// <summary><see cref="DecodeAttention"/> (one query over a KV cache) against the scalar attention twin, which sums
/// in double: fp32 dot products of length D and a softmax over S keys stay within 1e-5 relative of it.</summary>
public unsafe class QuantDecodeAttentionTests
{
    [Theory]
    [InlineData(1, 1, 1, 1, 1)]
    [InlineData(1, 8, 2, 17, 64)]
    [InlineData(2, 4, 4, 63, 3)]
    [InlineData(1, 6, 3, 129, 17)]
    [InlineData(1, 8, 1, 300, 64)]
    public void One_query_matches_the_reference(int B, int H, int Hkv, int S, int D)
    {
        int capacity = S + 5;   // the cache has room left over: rows past S must be ignored
        var q = TestData.Uniform((long)B * H * D, S + D);
        var kc = TestData.Uniform((long)B * Hkv * capacity * D, 3 * S);
        var vc = TestData.Uniform((long)B * Hkv * capacity * D, 5 * S);
        var k = new float[(long)B * Hkv * S * D];
        var v = new float[k.Length];
        for (int bh = 0; bh < B * Hkv; bh++)
        {
            Array.Copy(kc, (long)bh * capacity * D, k, (long)bh * S * D, (long)S * D);
            Array.Copy(vc, (long)bh * capacity * D, v, (long)bh * S * D, (long)S * D);
        }
        for (int i = (int)((long)S * D); i < capacity * D; i++) { kc[i] = float.NaN; vc[i] = float.NaN; }   // poison unused rows of the first head
        var expected = new float[q.Length];
        var actual = new float[q.Length];
        var p = new float[(long)B * H * S];
        float scale = 1f / MathF.Sqrt(D);
        fixed (float* pq = q, pk = k, pv = v, pkc = kc, pvc = vc, pe = expected, pa = actual, pp = p)
        {
            AttentionReference.Forward(pq, pk, pv, null, false, default, pp, pe, B, H, Hkv, 1, S, D, scale, causal: true, window: 0);
            DecodeAttention.Forward(pq, pkc, pvc, pa, B, H, Hkv, S, D, capacity, scale);
        }
        for (int i = 0; i < q.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f * (1 + Math.Abs(expected[i])), $"o[{i}] = {actual[i]}, reference {expected[i]}");
    }
}
