using System.Runtime.InteropServices;

namespace Lathe.Tensors.Quantized;

/// <summary>A Q4_0 matrix regrouped for the prompt-processing GEMM (<see cref="Kernels.Q4PackedGemm"/>): rows in
/// groups of <see cref="GroupRows"/>, and for each group and block of 32 values one record of
/// <see cref="RecordBytes"/> bytes — the 16 rows' scales widened to float, then four 64-byte vectors. Vector j holds,
/// for row r of the group, the four bytes 4j..4j+3 of that row's ggml block in dword lane r: their low nibbles are
/// values 4j..4j+3 and their high nibbles values 16+4j..16+4j+3 (ggml keeps value i in the low nibble of byte i and
/// value i+16 in its high nibble). One vector load thus feeds sixteen output columns with one byte-pair multiply each.
/// Groups are stored for <see cref="Groups"/> rounded up to even (the GEMM works on pairs); padding rows are zero.</summary>
public sealed unsafe class Q4_0Packed : IDisposable
{
    public const int GroupRows = 16;
    public const int RecordBytes = GroupRows * sizeof(float) + 4 * 64;

    byte* _data;

    /// <summary>N of the source matrix.</summary>
    public int Rows { get; }
    /// <summary>K of the source matrix.</summary>
    public int Columns { get; }
    /// <summary>Blocks of 32 values per row (K/32).</summary>
    public int Blocks { get; }
    /// <summary>Groups of 16 rows holding data (⌈N/16⌉).</summary>
    public int Groups { get; }
    /// <summary>Groups stored: <see cref="Groups"/> rounded up to even.</summary>
    public int StoredGroups { get; }
    /// <summary>Bytes from one group's first record to the next group's.</summary>
    public long GroupBytes => (long)Blocks * RecordBytes;
    public long ByteLength => GroupBytes * StoredGroups;

    public byte* Data => _data != null ? _data : throw new ObjectDisposedException(nameof(Q4_0Packed));

    Q4_0Packed(int rows, int columns)
    {
        Rows = rows; Columns = columns; Blocks = columns / Q4_0.BlockValues;
        Groups = (rows + GroupRows - 1) / GroupRows;
        StoredGroups = (Groups + 1) & ~1;
        _data = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(1, ByteLength), 64);
        NativeMemory.Clear(_data, (nuint)ByteLength);
    }

    /// <summary>Regroups <paramref name="rows"/> Q4_0 rows of <paramref name="columns"/> values starting at
    /// <paramref name="w"/> (ggml layout, rows contiguous).</summary>
    public static Q4_0Packed Pack(byte* w, int rows, int columns)
    {
        if (rows <= 0 || columns <= 0 || columns % Q4_0.BlockValues != 0)
            throw new ArgumentException($"Q4_0Packed: shape ({rows}, {columns}) must be positive with whole 32-value blocks.");
        var packed = new Q4_0Packed(rows, columns);
        long rowBytes = QuantTypes.RowBytes(QuantType.Q4_0, columns);
        for (int row = 0; row < rows; row++)
        {
            int g = row / GroupRows, lane = row % GroupRows;
            byte* source = w + row * rowBytes;
            byte* record = packed._data + g * packed.GroupBytes;
            for (int b = 0; b < packed.Blocks; b++, source += Q4_0.BlockBytes, record += RecordBytes)
            {
                ((float*)record)[lane] = HalfBits.ToSingle(*(ushort*)source);
                uint* quads = (uint*)(record + GroupRows * sizeof(float));
                for (int j = 0; j < 4; j++) quads[j * GroupRows + lane] = *(uint*)(source + 2 + 4 * j);
            }
        }
        return packed;
    }

    public void Dispose()
    {
        if (_data != null) NativeMemory.AlignedFree(_data);
        _data = null;
    }
}
