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
}

/// <summary>Sizes of the <see cref="QuantType"/> layouts.</summary>
public static class QuantTypes
{
    /// <summary>Values per block along a row (1 for F16).</summary>
    public static int BlockValues(QuantType type) => type == QuantType.F16 ? 1 : 32;

    /// <summary>Bytes of one row of <paramref name="columns"/> values (a whole number of blocks).</summary>
    public static long RowBytes(QuantType type, int columns) => type switch
    {
        QuantType.F16 => 2L * columns,
        QuantType.Q8_0 => (long)columns / Q8_0.BlockValues * Q8_0.BlockBytes,
        QuantType.Q4_0 => (long)columns / Q4_0.BlockValues * Q4_0.BlockBytes,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown quant type"),
    };

    /// <summary>Parses "f16", "q8_0" or "q4_0" (case-insensitive).</summary>
    public static QuantType Parse(string name) => name.ToLowerInvariant() switch
    {
        "f16" => QuantType.F16,
        "q8_0" => QuantType.Q8_0,
        "q4_0" => QuantType.Q4_0,
        _ => throw new ArgumentException($"quant type '{name}' is not one of f16, q8_0, q4_0."),
    };
}
