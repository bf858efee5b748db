using System.Runtime.CompilerServices;

namespace Lathe.Tensors.Quantized;

/// <summary>ggml's activation format for k-quant dot products, block_q8_K: per 256 values a float scale d, 256 signed
/// bytes q and 16 int16 sums of q over groups of 16 ("bsums", which let the kernels apply a sub-block's min or offset
/// once per group). Quantization as ggml's quantize_row_q8_K_ref: the value of largest magnitude (first if tied) sets
/// iscale = −127/max, q = min(127, round-half-even(iscale·x)), d = 1/iscale; an all-zero block has d = 0, q = 0.</summary>
public static unsafe class Q8_K
{
    public const int BlockValues = QuantTypes.SuperBlockValues;
    /// <summary>Bytes of ggml's block_q8_K: d (float), qs[256], bsums[16] (int16).</summary>
    public const int BlockBytes = 4 + BlockValues + 2 * GroupsPerBlock;
    /// <summary>Groups of 16 values per block, one bsum each.</summary>
    public const int GroupsPerBlock = BlockValues / 16;

    /// <summary>Quantizes whole blocks into ggml's block_q8_K layout (the form fixtures and tests compare).</summary>
    public static void Quantize(ReadOnlySpan<float> x, Span<byte> blocks)
    {
        if (x.Length % BlockValues != 0 || (long)x.Length / BlockValues * BlockBytes != blocks.Length)
            throw new ArgumentException($"q8_k: {blocks.Length} bytes do not hold {x.Length} values (whole blocks of {BlockValues} expected).");
        fixed (float* px = x)
        fixed (byte* pb = blocks)
            for (int b = 0; b < x.Length / BlockValues; b++)
            {
                byte* blk = pb + (long)b * BlockBytes;
                QuantizeBlock(px + (long)b * BlockValues, (sbyte*)(blk + 4), (float*)blk, (short*)(blk + 4 + BlockValues));
            }
    }

    /// <summary>Quantizes <paramref name="k"/> values (whole blocks) into separate arrays, the kernels' layout: quants
    /// q (k), scales d (k/256), group sums (k/16).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void QuantizeRow(float* x, int k, sbyte* q, float* d, short* bsums)
    {
        for (int b = 0; b < k / BlockValues; b++)
            QuantizeBlock(x + b * BlockValues, q + b * BlockValues, d + b, bsums + b * GroupsPerBlock);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void QuantizeBlock(float* x, sbyte* q, float* d, short* bsums)
    {
        float max = 0, amax = 0;
        for (int i = 0; i < BlockValues; i++)
        {
            float ax = MathF.Abs(x[i]);
            if (ax > amax) { amax = ax; max = x[i]; }
        }
        if (amax == 0)
        {
            *d = 0;
            new Span<sbyte>(q, BlockValues).Clear();
            new Span<short>(bsums, GroupsPerBlock).Clear();
            return;
        }
        float iscale = -127f / max;
        for (int i = 0; i < BlockValues; i++)
            q[i] = (sbyte)Math.Min(127, (int)MathF.Round(iscale * x[i], MidpointRounding.ToEven));
        for (int g = 0; g < GroupsPerBlock; g++)
        {
            int sum = 0;
            for (int i = 0; i < 16; i++) sum += q[g * 16 + i];
            bsums[g] = (short)sum;
        }
        *d = 1 / iscale;
    }
}
