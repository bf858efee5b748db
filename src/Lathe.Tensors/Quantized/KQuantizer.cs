using Lathe.Tensors.Quantized.KQuants;
using Lathe.Tensors.Threading;

namespace Lathe.Tensors.Quantized;

/// <summary>ggml's k-quant quantizers (Q2_K … Q6_K), byte for byte. Without importance weights each type is ggml's
/// quantize_row_qX_K_ref, which is also what ggml's quantize_qX_K (llama.cpp's quantizer) runs when it has no
/// importance matrix — for all five types. With importance weights it is quantize_qX_K's quant_weights path
/// (quantize_row_qX_K_impl). Super-blocks are independent, so they are spread over the <see cref="ComputePool"/>:
/// the bytes do not depend on the thread count.</summary>
public static unsafe class KQuantizer
{
    /// <summary>Encodes <paramref name="x"/> (a whole number of 256-value super-blocks) as <paramref name="type"/>
    /// into <paramref name="blocks"/>. <paramref name="importance"/> is empty, or one non-negative weight per value of
    /// <paramref name="x"/> (for a weight row, the importance matrix's entry of each column), ggml's quant_weights.</summary>
    public static void Quantize(QuantType type, ReadOnlySpan<float> x, Span<byte> blocks, ReadOnlySpan<float> importance)
    {
        string name = QuantTypes.Name(type);
        if (!QuantTypes.IsKQuant(type)) throw new ArgumentException($"{name} is not a k-quant type.", nameof(type));
        if (x.Length % QuantTypes.SuperBlockValues != 0)
            throw new ArgumentException($"{name}: a row of {x.Length} values is not a whole number of {QuantTypes.SuperBlockValues}-value super-blocks.");
        int superBlocks = x.Length / QuantTypes.SuperBlockValues;
        long expected = (long)superBlocks * QuantTypes.BlockBytes(type);
        if (blocks.Length != expected)
            throw new ArgumentException($"{name}: {blocks.Length} bytes for {x.Length} values ({expected} expected).");
        if (!importance.IsEmpty && importance.Length != x.Length)
            throw new ArgumentException($"{name}: {importance.Length} importance weights for {x.Length} values.");
        if (superBlocks == 0) return;
        fixed (float* px = x)
        fixed (float* pw = importance)
        fixed (byte* py = blocks)
        {
            var body = new Body
            {
                Type = type, X = px, Weights = importance.IsEmpty ? null : pw, Y = py,
                BlockBytes = QuantTypes.BlockBytes(type), SuperBlocks = superBlocks,
                PerChunk = Math.Max(1, (superBlocks + 4 * ComputePool.Shared.Threads - 1) / (4 * ComputePool.Shared.Threads)),
            };
            ComputePool.Shared.For((superBlocks + body.PerChunk - 1) / body.PerChunk, ref body);
        }
    }

    /// <summary>One super-block (256 values at <paramref name="x"/>, importance at <paramref name="qw"/> or null) to
    /// <paramref name="y"/>.</summary>
    internal static void QuantizeSuperBlock(QuantType type, float* x, float* qw, byte* y)
    {
        switch (type)
        {
            case QuantType.Q2_K: if (qw == null) Q2K.QuantizeReference(x, y); else Q2K.QuantizeWeighted(x, qw, y); break;
            case QuantType.Q3_K: if (qw == null) Q3K.QuantizeReference(x, y); else Q3K.QuantizeWeighted(x, qw, y); break;
            case QuantType.Q4_K: if (qw == null) Q4K.QuantizeReference(15, x, y); else Q4K.QuantizeWeighted(15, x, qw, y); break;
            case QuantType.Q5_K: if (qw == null) Q4K.QuantizeReference(31, x, y); else Q4K.QuantizeWeighted(31, x, qw, y); break;
            case QuantType.Q6_K: Q6K.Quantize(x, qw, y); break;
            default: throw new ArgumentOutOfRangeException(nameof(type), type, "not a k-quant type");
        }
    }

    struct Body : IParallelBody
    {
        public QuantType Type;
        public float* X, Weights;
        public byte* Y;
        public int BlockBytes, SuperBlocks, PerChunk;

        public void Execute(int chunk)
        {
            int end = Math.Min(SuperBlocks, (chunk + 1) * PerChunk);
            for (int b = chunk * PerChunk; b < end; b++)
            {
                long at = (long)b * QuantTypes.SuperBlockValues;
                QuantizeSuperBlock(Type, X + at, Weights == null ? null : Weights + at, Y + (long)b * BlockBytes);
            }
        }
    }
}
