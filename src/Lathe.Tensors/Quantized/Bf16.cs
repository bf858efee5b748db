using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Lathe.Tensors.Quantized;

/// <summary>bfloat16 as ggml converts it (ggml-impl.h, ggml_compute_fp32_to_bf16 / ggml_compute_bf16_to_fp32; also
/// Google Brain's rule): a bf16 is the top 16 bits of an IEEE single. Encoding rounds to nearest, ties to even, on the
/// dropped 16 bits (so the largest finite floats round to infinity, and subnormals stay subnormal — no flush);
/// every NaN keeps its sign and top payload bits and gets the quiet bit set. Decoding is exact.</summary>
public static unsafe class Bf16
{
    /// <summary>The bf16 bits of <paramref name="value"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FromSingle(float value)
    {
        uint u = BitConverter.SingleToUInt32Bits(value);
        if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (ushort)((u >> 16) | 0x40);   // NaN: truncating could make it inf
        return (ushort)((u + 0x7FFFu + ((u >> 16) & 1)) >> 16);
    }

    /// <summary>The float whose top 16 bits are <paramref name="bits"/> (exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>Encodes each of <paramref name="x"/> (ggml_fp32_to_bf16_row_ref).</summary>
    public static void FromSingle(ReadOnlySpan<float> x, Span<ushort> bits)
    {
        if (bits.Length != x.Length) throw new ArgumentException($"bf16: {bits.Length} outputs for {x.Length} values.", nameof(bits));
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            fixed (float* f = x)
            fixed (ushort* b = bits)
                for (; i + 32 <= x.Length; i += 32)
                    Vector512.Narrow(FromSingle(Vector512.Load((uint*)f + i)), FromSingle(Vector512.Load((uint*)f + i + 16))).Store(b + i);
        }
        for (; i < x.Length; i++) bits[i] = FromSingle(x[i]);
    }

    // The scalar rule on 16 lanes; each result in the low half of its lane.
    static Vector512<uint> FromSingle(Vector512<uint> u)
    {
        var nan = Vector512.GreaterThan(u & Vector512.Create(0x7FFFFFFFu), Vector512.Create(0x7F800000u));
        var rounded = (u + Vector512.Create(0x7FFFu) + ((u >> 16) & Vector512<uint>.One)) >> 16;
        return Vector512.ConditionalSelect(nan, (u >> 16) | Vector512.Create(0x40u), rounded);
    }

    /// <summary>Decodes each of <paramref name="bits"/> (ggml_bf16_to_fp32_row).</summary>
    public static void ToSingle(ReadOnlySpan<ushort> bits, Span<float> x)
    {
        if (bits.Length != x.Length) throw new ArgumentException($"bf16: {x.Length} outputs for {bits.Length} values.", nameof(x));
        fixed (ushort* b = bits)
        fixed (float* f = x)
            ToSingle(b, f, x.Length);
    }

    /// <summary>Decodes <paramref name="n"/> values, 32 at a time where 512-bit vectors exist (a BF16 weight panel
    /// for the F32 GEMM).</summary>
    internal static void ToSingle(ushort* bits, float* x, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 32 <= n; i += 32)
            {
                var h = Vector512.Load(bits + i);
                (Vector512.WidenLower(h) << 16).AsSingle().Store(x + i);
                (Vector512.WidenUpper(h) << 16).AsSingle().Store(x + i + 16);
            }
        }
        for (; i < n; i++) x[i] = ToSingle(bits[i]);
    }
}
