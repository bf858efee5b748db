namespace Lathe.Tensors.Quantized;

/// <summary>Storage types of a <see cref="QuantizedMatrix"/>, with ggml's layouts (ggml type ids in comments).</summary>
public enum QuantType
{
    /// <summary>IEEE half precision, one value per 2 bytes (GGML_TYPE_F16 = 1).</summary>
    F16,
    /// <summary>Blocks of 32: fp16 scale + 32 signed bytes (GGML_TYPE_Q8_0 = 8).</summary>
    Q8_0,
    /// <summary>Blocks of 32: fp16 scale + 16 bytes of nibbles, value = d·(q − 8) (GGML_TYPE_Q4_0 = 2).</summary>
    Q4_0,
    /// <summary>bfloat16: the top 16 bits of an IEEE single, one value per 2 bytes (GGML_TYPE_BF16 = 30).</summary>
    BF16,
    /// <summary>Super-blocks of 256: 16 sub-blocks of 16 with 4-bit scales and mins, 2-bit quants; 84 bytes (GGML_TYPE_Q2_K = 10).</summary>
    Q2_K,
    /// <summary>Super-blocks of 256: 2-bit quants + a high-bit mask, 16 6-bit scales; 110 bytes (GGML_TYPE_Q3_K = 11).</summary>
    Q3_K,
    /// <summary>Super-blocks of 256: 8 sub-blocks of 32 with 6-bit scales and mins, 4-bit quants; 144 bytes (GGML_TYPE_Q4_K = 12).</summary>
    Q4_K,
    /// <summary>Super-blocks of 256: as Q4_K plus a fifth bit per value; 176 bytes (GGML_TYPE_Q5_K = 13).</summary>
    Q5_K,
    /// <summary>Super-blocks of 256: 16 sub-blocks of 16 with 8-bit scales, 6-bit quants; 210 bytes (GGML_TYPE_Q6_K = 14).</summary>
    Q6_K,
}

/// <summary>Sizes of the <see cref="QuantType"/> layouts.</summary>
public static class QuantTypes
{
    /// <summary>Values per k-quant super-block (ggml's QK_K).</summary>
    public const int SuperBlockValues = 256;

    /// <summary>Whether <paramref name="type"/> is one of ggml's k-quants (super-blocks of 256).</summary>
    public static bool IsKQuant(QuantType type) => type is QuantType.Q2_K or QuantType.Q3_K or QuantType.Q4_K or QuantType.Q5_K or QuantType.Q6_K;

    /// <summary>Values per block along a row (1 for F16 and BF16).</summary>
    public static int BlockValues(QuantType type) => type switch
    {
        QuantType.F16 or QuantType.BF16 => 1,
        QuantType.Q8_0 or QuantType.Q4_0 => 32,
        _ => SuperBlockValues,
    };

    /// <summary>Bytes of one block (of <see cref="BlockValues"/> values).</summary>
    public static int BlockBytes(QuantType type) => type switch
    {
        QuantType.F16 or QuantType.BF16 => 2,
        QuantType.Q8_0 => Q8_0.BlockBytes,
        QuantType.Q4_0 => Q4_0.BlockBytes,
        QuantType.Q2_K => 16 + 64 + 2 + 2,                 // scales[16], qs[64], d, dmin
        QuantType.Q3_K => 32 + 64 + 12 + 2,                // hmask[32], qs[64], scales[12], d
        QuantType.Q4_K => 2 + 2 + 12 + 128,                // d, dmin, scales[12], qs[128]
        QuantType.Q5_K => 2 + 2 + 12 + 32 + 128,           // d, dmin, scales[12], qh[32], qs[128]
        QuantType.Q6_K => 128 + 64 + 16 + 2,               // ql[128], qh[64], scales[16], d
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown quant type"),
    };

    /// <summary>Bytes of one row of <paramref name="columns"/> values (a whole number of blocks).</summary>
    public static long RowBytes(QuantType type, int columns) => (long)columns / BlockValues(type) * BlockBytes(type);

    /// <summary>The names <see cref="Parse"/> accepts, as llama.cpp spells them.</summary>
    public static readonly string[] Names = ["f16", "bf16", "q8_0", "q4_0", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k"];

    /// <summary>The lower-case name of a type ("q4_k").</summary>
    public static string Name(QuantType type) => type.ToString().ToLowerInvariant();

    /// <summary>Parses one of <see cref="Names"/> (case-insensitive).</summary>
    public static QuantType Parse(string name) => name.ToLowerInvariant() switch
    {
        "f16" => QuantType.F16,
        "bf16" => QuantType.BF16,
        "q8_0" => QuantType.Q8_0,
        "q4_0" => QuantType.Q4_0,
        "q2_k" => QuantType.Q2_K,
        "q3_k" => QuantType.Q3_K,
        "q4_k" => QuantType.Q4_K,
        "q5_k" => QuantType.Q5_K,
        "q6_k" => QuantType.Q6_K,
        _ => throw new ArgumentException($"quant type '{name}' is not one of {string.Join(", ", Names)}."),
    };
}
