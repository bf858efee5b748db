using System.Runtime.CompilerServices;

namespace Lathe.Tensors.Quantized;

/// <summary>IEEE binary16 → binary32 without a lookup table: .NET exposes no F16C conversion, and the block
/// scales of Q8_0/Q4_0 are read once per 32 values in the hottest loops.</summary>
internal static class HalfBits
{
    /// <summary>2^112 (exactly representable; the decimal rounds to it).</summary>
    public const float Two112 = 5.192296858534828e33f;

    /// <summary>Exact conversion of the half whose bits are <paramref name="bits"/>. Exponent and mantissa are shifted
    /// into float position and rescaled by 2^112 (the bias difference 127 − 15), which is exact for normal and
    /// subnormal halves alike; infinities and NaNs get the all-ones exponent back.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ushort bits)
    {
        uint em = bits & 0x7FFFu;
        uint shifted = em << 13;
        float magnitude = em >= 0x7C00u ? BitConverter.UInt32BitsToSingle(shifted | 0x7F800000u)
                                        : BitConverter.UInt32BitsToSingle(shifted) * Two112;
        return BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(magnitude) | ((uint)(bits & 0x8000) << 16));
    }
}
