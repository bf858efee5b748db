using System.Runtime.InteropServices;

namespace Lathe.Tensors.Quantized;

/// <summary>A Q8_0 matrix regrouped for the prompt-processing GEMM (<see cref="Kernels.Q8PackedGemm"/>): rows in
/// groups of <see cref="GroupRows"/> (one 256-bit vector of int32 lanes), and for each group and block of 32 values one
/// record of <see cref="RecordBytes"/> bytes — the 8 rows' scales widened to float, their offset corrections
/// −128·Σw (the activations enter as q + 128, the unsigned operand of vpdpbusd), then eight 32-byte vectors: vector t
/// holds bytes 4t..4t+3 of each row's block in dword lane r. Needs N a multiple of 16 (the GEMM takes groups in pairs).</summary>
public sealed unsafe class Q8_0Packed : IDisposable
{
    public const int GroupRows = 8;
    public const int RecordBytes = GroupRows * (sizeof(float) + sizeof(int)) + 8 * 32;

    byte* _data;

    public int Rows { get; }
    public int Columns { get; }
    /// <summary>Blocks of 32 values per row (K/32).</summary>
    public int Blocks { get; }
    /// <summary>Groups of 8 rows (N/8, even).</summary>
    public int Groups { get; }
    /// <summary>Bytes from one group's first record to the next group's.</summary>
    public long GroupBytes => (long)Blocks * RecordBytes;
    public long ByteLength => GroupBytes * Groups;

    public byte* Data => _data != null ? _data : throw new ObjectDisposedException(nameof(Q8_0Packed));

    Q8_0Packed(int rows, int columns)
    {
        Rows = rows; Columns = columns; Blocks = columns / Q8_0.BlockValues; Groups = rows / GroupRows;
        _data = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(1, ByteLength), 64);
    }

    /// <summary>Regroups <paramref name="rows"/> (a multiple of 16) Q8_0 rows of <paramref name="columns"/> values
    /// starting at <paramref name="w"/> (ggml layout, rows contiguous).</summary>
    public static Q8_0Packed Pack(byte* w, int rows, int columns)
    {
        if (rows <= 0 || rows % (2 * GroupRows) != 0 || columns <= 0 || columns % Q8_0.BlockValues != 0)
            throw new ArgumentException($"Q8_0Packed: shape ({rows}, {columns}) needs rows a multiple of 16 and whole 32-value blocks.");
        var packed = new Q8_0Packed(rows, columns);
        long rowBytes = QuantTypes.RowBytes(QuantType.Q8_0, columns);
        for (int row = 0; row < rows; row++)
        {
            int g = row / GroupRows, lane = row % GroupRows;
            byte* source = w + row * rowBytes;
            byte* record = packed._data + g * packed.GroupBytes;
            for (int b = 0; b < packed.Blocks; b++, source += Q8_0.BlockBytes, record += RecordBytes)
            {
                ((float*)record)[lane] = HalfBits.ToSingle(*(ushort*)source);
                int sum = 0;
                for (int i = 0; i < 32; i++) sum += (sbyte)source[2 + i];
                ((int*)record)[GroupRows + lane] = -128 * sum;
                uint* quads = (uint*)(record + GroupRows * (sizeof(float) + sizeof(int)));
                for (int t = 0; t < 8; t++) quads[t * GroupRows + lane] = *(uint*)(source + 2 + 4 * t);
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
