using System.Runtime.InteropServices;

namespace Lathe.Tensors.Quantized;

/// <summary>A weight matrix W of <see cref="Rows"/> (N, out features) × <see cref="Columns"/> (K, in features) stored
/// in a <see cref="QuantType"/> with ggml's layout: rows contiguous, each row a run of blocks along K. The bytes are
/// either owned (64-byte aligned native memory, freed on dispose) or borrowed (e.g. a pointer into a memory-mapped
/// GGUF file), in which case an owner object is kept alive for as long as this matrix is.</summary>
public sealed unsafe class QuantizedMatrix : IDisposable
{
    byte* _data;
    readonly bool _owns;
    // Holds the borrowed memory's owner (a memory-mapped view, a pinned array handle…) reachable.
    readonly object? _owner;

    public QuantType Type { get; }
    /// <summary>N: output features (rows of W).</summary>
    public int Rows { get; }
    /// <summary>K: input features (values per row).</summary>
    public int Columns { get; }
    /// <summary>Bytes of one row.</summary>
    public long RowBytes { get; }
    /// <summary>Bytes of the whole matrix.</summary>
    public long ByteLength => RowBytes * Rows;

    /// <summary>The first byte of row 0.</summary>
    public byte* Data => _data != null ? _data : throw new ObjectDisposedException(nameof(QuantizedMatrix));

    /// <summary>The stored bytes.</summary>
    public ReadOnlySpan<byte> Bytes => new(Data, checked((int)ByteLength));

    QuantizedMatrix(QuantType type, int rows, int columns, byte* data, bool owns, object? owner)
    {
        Type = type; Rows = rows; Columns = columns;
        RowBytes = QuantTypes.RowBytes(type, columns);
        _data = data; _owns = owns; _owner = owner;
    }

    static void CheckShape(QuantType type, int rows, int columns)
    {
        if (rows <= 0 || columns <= 0)
            throw new ArgumentException($"QuantizedMatrix: shape ({rows}, {columns}) must be positive.");
        int bv = QuantTypes.BlockValues(type);
        if (columns % bv != 0)
            throw new ArgumentException($"QuantizedMatrix: {type} rows of {columns} values are not a whole number of {bv}-value blocks.");
    }

    static byte* Allocate(long bytes) => (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 1), 64);

    /// <summary>Quantizes a row-major F32 matrix (<paramref name="rows"/>, <paramref name="columns"/>) with ggml's
    /// reference quantizers (<see cref="BlockCodec"/>).</summary>
    public static QuantizedMatrix FromFloat(ReadOnlySpan<float> values, int rows, int columns, QuantType type)
    {
        CheckShape(type, rows, columns);
        if (values.Length != (long)rows * columns)
            throw new ArgumentException($"QuantizedMatrix: {values.Length} values do not fill ({rows}, {columns}).");
        var m = new QuantizedMatrix(type, rows, columns, null, true, null);
        m._data = Allocate(m.ByteLength);
        for (int r = 0; r < rows; r++)
        {
            var src = values.Slice(r * columns, columns);
            var dst = new Span<byte>(m._data + r * m.RowBytes, (int)m.RowBytes);
            BlockCodec.Quantize(type, src, dst);
        }
        return m;
    }

    /// <summary>Copies <paramref name="bytes"/> laid out as <paramref name="type"/> (e.g. a GGUF tensor's data).</summary>
    public static QuantizedMatrix FromBytes(ReadOnlySpan<byte> bytes, int rows, int columns, QuantType type)
    {
        CheckShape(type, rows, columns);
        long expected = QuantTypes.RowBytes(type, columns) * rows;
        if (bytes.Length != expected)
            throw new ArgumentException($"QuantizedMatrix: {bytes.Length} bytes do not hold a {type} ({rows}, {columns}) matrix ({expected} expected).");
        var m = new QuantizedMatrix(type, rows, columns, null, true, null);
        m._data = Allocate(expected);
        bytes.CopyTo(new Span<byte>(m._data, (int)expected));
        return m;
    }

    /// <summary>Wraps memory this matrix does not own: <paramref name="data"/> must hold <paramref name="length"/>
    /// bytes laid out as <paramref name="type"/> and stay valid while <paramref name="owner"/> is alive (this matrix
    /// keeps a reference to it). Dispose does not free borrowed memory.</summary>
    public static QuantizedMatrix Borrow(byte* data, long length, int rows, int columns, QuantType type, object owner)
    {
        ArgumentNullException.ThrowIfNull(owner);
        CheckShape(type, rows, columns);
        if (data == null) throw new ArgumentException("QuantizedMatrix: borrowed data pointer is null.");
        long expected = QuantTypes.RowBytes(type, columns) * rows;
        if (length != expected)
            throw new ArgumentException($"QuantizedMatrix: {length} bytes do not hold a {type} ({rows}, {columns}) matrix ({expected} expected).");
        return new QuantizedMatrix(type, rows, columns, data, false, owner);
    }

    /// <summary>A new owned matrix with the rows of <paramref name="parts"/> one after another (same type and columns):
    /// several projections of one input run as one product.</summary>
    public static QuantizedMatrix Stack(params QuantizedMatrix[] parts)
    {
        if (parts.Length == 0) throw new ArgumentException("QuantizedMatrix.Stack: no matrices.");
        int rows = 0;
        foreach (var p in parts)
        {
            if (p.Type != parts[0].Type || p.Columns != parts[0].Columns)
                throw new ArgumentException($"QuantizedMatrix.Stack: a {p.Type} ({p.Rows}, {p.Columns}) matrix does not stack under {parts[0].Type} ({parts[0].Rows}, {parts[0].Columns}).");
            rows = checked(rows + p.Rows);
        }
        var m = new QuantizedMatrix(parts[0].Type, rows, parts[0].Columns, null, true, null);
        m._data = Allocate(m.ByteLength);
        long offset = 0;
        foreach (var p in parts)
        {
            Buffer.MemoryCopy(p.Data, m._data + offset, m.ByteLength - offset, p.ByteLength);
            offset += p.ByteLength;
        }
        return m;
    }

    IDisposable? _packed;

    /// <summary>This Q4_0 matrix regrouped for the prompt-processing GEMM; see <see cref="GetPacked{T}"/>.</summary>
    internal Q4_0Packed PackedQ4 => GetPacked(QuantType.Q4_0, static m => Q4_0Packed.Pack(m.Data, m.Rows, m.Columns));

    /// <summary>This Q8_0 matrix regrouped for the prompt-processing GEMM; see <see cref="GetPacked{T}"/>.</summary>
    internal Q8_0Packed PackedQ8 => GetPacked(QuantType.Q8_0, static m => Q8_0Packed.Pack(m.Data, m.Rows, m.Columns));

    // The packed copy is made on first use (the first prompt of a run pays ~1 ms per million weights; generation alone
    // never does) and kept until dispose; racing first users keep one copy.
    T GetPacked<T>(QuantType type, Func<QuantizedMatrix, T> pack) where T : class, IDisposable
    {
        if (Volatile.Read(ref _packed) is T packed) return packed;
        if (Type != type) throw new InvalidOperationException($"QuantizedMatrix: a {Type} matrix has no {type} packing.");
        var fresh = pack(this);
        if (Interlocked.CompareExchange(ref _packed, fresh, null) is T prior) { fresh.Dispose(); return prior; }
        return fresh;
    }

    /// <summary>Row <paramref name="row"/> decoded to floats (for tests, embeddings and debugging; never the matmul path).</summary>
    public void DequantizeRow(int row, Span<float> destination)
    {
        if ((uint)row >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(row), row, $"row must be in 0..{Rows - 1}.");
        if (destination.Length != Columns) throw new ArgumentException($"QuantizedMatrix: destination has {destination.Length} values, a row has {Columns}.");
        var src = new ReadOnlySpan<byte>(Data + row * RowBytes, (int)RowBytes);
        BlockCodec.Dequantize(Type, src, destination);
    }

    public void Dispose()
    {
        Interlocked.Exchange(ref _packed, null)?.Dispose();
        if (_owns && _data != null) NativeMemory.AlignedFree(_data);
        _data = null;
        GC.KeepAlive(_owner);
    }
}
