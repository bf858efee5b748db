using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Lathe.Tensors.Quantized;

namespace Lathe.Tensors.Kernels;

/// <summary>One k-quant super-block spread out for integer dot products: its 256 codes as unsigned bytes in value order
/// (offsets not yet subtracted), one 16-lane int16 scale vector per 32 values (lanes 0..7 weigh the pair sums of
/// values 0..15, lanes 8..15 those of 16..31, so vpmaddwd applies two 16-value sub-block scales at once), and one
/// int16 coefficient per group of 16 values that multiplies the activations' group sums: the min for Q2_K/Q4_K/Q5_K
/// (B, weighted by dmin), offset·scale for Q3_K (4·s) and Q6_K (32·s), subtracted from A.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 32)]
internal unsafe struct UnpackedSuperBlock
{
    public const int Bytes = 256 + 256 + 32 + 16;
    public fixed byte Codes[256];
    public fixed short Scales[128];
    public fixed short Groups[16];
    public float D, DMin;
    /// <summary>1 when the group term is an offset (Q3_K, Q6_K), 0 when it is a min (Q2_K, Q4_K, Q5_K).</summary>
    public int GroupsAreOffsets;
    int _pad;
}

/// <summary>Spreads a super-block of each k-quant layout (<see cref="KBlocks"/>) into an
/// <see cref="UnpackedSuperBlock"/> with 256-bit vector operations: masks and shifts of the packed bit fields, the same
/// codes <see cref="KBlocks"/>' scalar readers give.</summary>
internal static unsafe class KQuantUnpack
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unpack(QuantType type, byte* blk, UnpackedSuperBlock* u)
    {
        switch (type)
        {
            case QuantType.Q2_K: Q2(blk, u); break;
            case QuantType.Q3_K: Q3(blk, u); break;
            case QuantType.Q4_K: Q45(blk, u, false); break;
            case QuantType.Q5_K: Q45(blk, u, true); break;
            default: Q6(blk, u); break;
        }
    }

    static Vector256<byte> ShiftRight(Vector256<byte> v, int bits) => Vector256.ShiftRightLogical(v.AsUInt16(), bits).AsByte();
    static Vector256<byte> ShiftLeft(Vector256<byte> v, int bits) => Vector256.ShiftLeft(v.AsUInt16(), bits).AsByte();

    // Lanes 0..7 = scale of sub-block 2i, 8..15 = of 2i+1.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void PairScale(UnpackedSuperBlock* u, int i, int first, int second)
        => Vector256.Create(Vector128.Create((short)first), Vector128.Create((short)second)).Store(u->Scales + 16 * i);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Q2(byte* blk, UnpackedSuperBlock* u)
    {
        var three = Vector256.Create((byte)3);
        for (int n = 0; n < 2; n++)
        {
            var q = Vector256.Load(blk + KBlocks.Q2Qs + 32 * n);
            for (int j = 0; j < 4; j++) (ShiftRight(q, 2 * j) & three).Store(u->Codes + 128 * n + 32 * j);
        }
        byte* s = blk + KBlocks.Q2Scales;
        for (int i = 0; i < 8; i++) PairScale(u, i, s[2 * i] & 0xF, s[2 * i + 1] & 0xF);
        for (int g = 0; g < 16; g++) u->Groups[g] = (short)(s[g] >> 4);
        u->D = HalfBits.ToSingle(*(ushort*)(blk + KBlocks.Q2D));
        u->DMin = HalfBits.ToSingle(*(ushort*)(blk + KBlocks.Q2DMin));
        u->GroupsAreOffsets = 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Q3(byte* blk, UnpackedSuperBlock* u)
    {
        var three = Vector256.Create((byte)3);
        var four = Vector256.Create((byte)4);
        var hmask = Vector256.Load(blk + KBlocks.Q3HMask);
        for (int n = 0; n < 2; n++)
        {
            var q = Vector256.Load(blk + KBlocks.Q3Qs + 32 * n);
            for (int j = 0; j < 4; j++)
            {
                var bit = Vector256.Create((byte)(1 << (4 * n + j)));
                var high = Vector256.Equals(hmask & bit, bit) & four;
                ((ShiftRight(q, 2 * j) & three) | high).Store(u->Codes + 128 * n + 32 * j);
            }
        }
        // The sixteen 6-bit scales four at a time (KBlocks.Q3Scale for all): low nibbles from bytes 0..7, top two bits
        // from bytes 8..11 shifted by 0, 2, 4, 6 for scales 0..3, 4..7, 8..11, 12..15.
        uint a0 = *(uint*)(blk + KBlocks.Q3Scales), a1 = *(uint*)(blk + KBlocks.Q3Scales + 4), t = *(uint*)(blk + KBlocks.Q3Scales + 8);
        uint* words = stackalloc uint[4];
        words[0] = (a0 & 0x0F0F0F0Fu) | (t & 0x03030303u) << 4;
        words[1] = (a1 & 0x0F0F0F0Fu) | ((t >> 2) & 0x03030303u) << 4;
        words[2] = ((a0 >> 4) & 0x0F0F0F0Fu) | ((t >> 4) & 0x03030303u) << 4;
        words[3] = ((a1 >> 4) & 0x0F0F0F0Fu) | ((t >> 6) & 0x03030303u) << 4;
        byte* sc = (byte*)words;
        for (int i = 0; i < 8; i++) PairScale(u, i, sc[2 * i] - 32, sc[2 * i + 1] - 32);
        for (int g = 0; g < 16; g++) u->Groups[g] = (short)(4 * (sc[g] - 32));
        u->D = HalfBits.ToSingle(*(ushort*)(blk + KBlocks.Q3D));
        u->DMin = 0;
        u->GroupsAreOffsets = 1;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Q45(byte* blk, UnpackedSuperBlock* u, bool five)
    {
        var low4 = Vector256.Create((byte)0xF);
        var sixteen = Vector256.Create((byte)16);
        var qh = five ? Vector256.Load(blk + KBlocks.Q5Qh) : default;
        byte* qs = blk + (five ? KBlocks.Q5Qs : KBlocks.Q4Qs);
        for (int j = 0; j < 4; j++)
        {
            var v = Vector256.Load(qs + 32 * j);
            var lo = v & low4;
            var hi = ShiftRight(v, 4) & low4;
            if (five)
            {
                var b0 = Vector256.Create((byte)(1 << (2 * j)));
                var b1 = Vector256.Create((byte)(2 << (2 * j)));
                lo |= Vector256.Equals(qh & b0, b0) & sixteen;
                hi |= Vector256.Equals(qh & b1, b1) & sixteen;
            }
            lo.Store(u->Codes + 64 * j);
            hi.Store(u->Codes + 64 * j + 32);
        }
        byte* s = blk + KBlocks.Q4Scales;   // same offset in Q5_K
        for (int i = 0; i < 8; i++)
        {
            KBlocks.ScaleMin(s, i, out int sc, out int mn);
            PairScale(u, i, sc, sc);
            u->Groups[2 * i] = u->Groups[2 * i + 1] = (short)mn;
        }
        u->D = HalfBits.ToSingle(*(ushort*)(blk + KBlocks.Q4D));
        u->DMin = HalfBits.ToSingle(*(ushort*)(blk + KBlocks.Q4DMin));
        u->GroupsAreOffsets = 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Q6(byte* blk, UnpackedSuperBlock* u)
    {
        var low4 = Vector256.Create((byte)0xF);
        var m2 = Vector256.Create((byte)0x03);
        var m4 = Vector256.Create((byte)0x0C);
        var m6 = Vector256.Create((byte)0x30);
        var m8 = Vector256.Create((byte)0xC0);
        for (int n = 0; n < 2; n++)
        {
            var ql0 = Vector256.Load(blk + KBlocks.Q6Ql + 64 * n);
            var ql1 = Vector256.Load(blk + KBlocks.Q6Ql + 64 * n + 32);
            var h = Vector256.Load(blk + KBlocks.Q6Qh + 32 * n);
            byte* c = u->Codes + 128 * n;
            ((ql0 & low4) | ShiftLeft(h & m2, 4)).Store(c);
            ((ql1 & low4) | ShiftLeft(h & m4, 2)).Store(c + 32);
            ((ShiftRight(ql0, 4) & low4) | (h & m6)).Store(c + 64);
            ((ShiftRight(ql1, 4) & low4) | ShiftRight(h & m8, 2)).Store(c + 96);
        }
        sbyte* s = (sbyte*)(blk + KBlocks.Q6Scales);
        for (int i = 0; i < 8; i++) PairScale(u, i, s[2 * i], s[2 * i + 1]);
        for (int g = 0; g < 16; g++) u->Groups[g] = (short)(32 * s[g]);
        u->D = HalfBits.ToSingle(*(ushort*)(blk + KBlocks.Q6D));
        u->DMin = 0;
        u->GroupsAreOffsets = 1;
    }
}
