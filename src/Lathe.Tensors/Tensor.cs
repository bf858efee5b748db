using System.Runtime.CompilerServices;
using System.Text;
using Lathe.Tensors.Autograd;
using Lathe.Tensors.Storage;

namespace Lathe.Tensors;

/// <summary>An n-dimensional float32 array in 64-byte aligned native memory, with shape, strides and an
/// offset into its buffer. Views (reshape, transpose, slice) share the buffer; <see cref="Contiguous"/>
/// copies when a kernel needs row-major data.</summary>
/// <remarks>
/// Lifetime: a tensor made by an op while a <see cref="Tape"/> is active belongs to that tape and stays
/// valid until the tape's next <see cref="Tape.Reset"/>; the tape recycles it (object and memory) for the
/// same op in the next step, which is what keeps training steps free of allocation. A tensor made with
/// no active tape, and every tensor made by the factory methods (parameters, inputs), belongs to the
/// caller, who disposes it.
/// </remarks>
public sealed unsafe partial class Tensor : IDisposable
{
    int[] _shape;
    int[] _strides;
    long _offset;
    NativeBuffer? _buffer;       // the memory this tensor reads (its own or a base tensor's)
    NativeBuffer? _ownedBuffer;  // memory this tensor owns and may reuse; null for views made outside a tape
    bool _disposed;

    /// <summary>Optional name, used in error messages and by checkpoint writers.</summary>
    public string? Name { get; set; }

    internal Tensor(ReadOnlySpan<int> shape)
    {
        _shape = shape.ToArray();
        _strides = new int[shape.Length];
        Length = CheckedLength(shape, "Tensor");
        FillContiguousStrides();
        _ownedBuffer = BufferPool.Rent(Length);
        _buffer = _ownedBuffer;
    }

    // A recyclable shell (used by the tape).
    internal Tensor() { _shape = []; _strides = []; Length = 1; }

    public ReadOnlySpan<int> Shape => _shape;
    public ReadOnlySpan<int> Strides => _strides;
    public int Rank => _shape.Length;
    /// <summary>Number of elements.</summary>
    public int Length { get; private set; }
    public int Dim(int axis) => _shape[NormalizeAxis(axis, Rank, "Dim")];

    /// <summary>Pointer to element [0, 0, …] (after the offset).</summary>
    public float* Data
    {
        get
        {
            if (_buffer is null) throw new ObjectDisposedException(Describe());
            return _buffer.Pointer + _offset;
        }
    }

    public bool IsContiguous
    {
        get
        {
            long expected = 1;
            for (int i = Rank - 1; i >= 0; i--)
            {
                if (_shape[i] != 1 && _strides[i] != expected) return false;
                expected *= _shape[i];
            }
            return true;
        }
    }

    /// <summary>The elements as a span; the tensor must be contiguous.</summary>
    public Span<float> AsSpan()
    {
        RequireContiguous("AsSpan");
        return new Span<float>(Data, Length);
    }

    public float[] ToArray()
    {
        var result = new float[Length];
        if (IsContiguous) { AsSpan().CopyTo(result); return result; }
        int i = 0;
        foreach (long off in ElementOffsets()) result[i++] = _buffer!.Pointer[off];
        return result;
    }

    /// <summary>The value of a one-element tensor.</summary>
    public float Item()
    {
        if (Length != 1) throw new InvalidOperationException($"Item: tensor has shape {ShapeString(Shape)}, expected one element.");
        return *Data;
    }

    // ── Factories: tensors owned by the caller ──────────────────────────────────────────────────

    public static Tensor Zeros(params ReadOnlySpan<int> shape)
    {
        var t = new Tensor(shape);
        t.AsSpan().Clear();
        return t;
    }

    public static Tensor Empty(params ReadOnlySpan<int> shape) => new(shape);

    public static Tensor Full(float value, params ReadOnlySpan<int> shape)
    {
        var t = new Tensor(shape);
        t.AsSpan().Fill(value);
        return t;
    }

    public static Tensor FromArray(ReadOnlySpan<float> data, params ReadOnlySpan<int> shape)
    {
        var t = new Tensor(shape);
        if (data.Length != t.Length)
            throw new ArgumentException($"FromArray: {data.Length} values do not fill shape {ShapeString(shape)} ({t.Length} elements).");
        data.CopyTo(t.AsSpan());
        return t;
    }

    /// <summary>A leaf tensor whose gradient is accumulated by <see cref="Tape.Backward"/>.</summary>
    public static Tensor Parameter(ReadOnlySpan<float> data, params ReadOnlySpan<int> shape)
    {
        var t = FromArray(data, shape);
        t.RequiresGrad = true;
        return t;
    }

    // ── Internal construction used by ops and the tape ──────────────────────────────────────────

    /// <summary>Makes this (recycled) tensor a fresh contiguous tensor of <paramref name="shape"/>,
    /// reusing its owned memory when large enough.</summary>
    internal void ResetAsContiguous(ReadOnlySpan<int> shape)
    {
        SetShape(shape);
        FillContiguousStrides();
        _offset = 0;
        if (_ownedBuffer is null || _ownedBuffer.Capacity < Length)
        {
            _ownedBuffer?.Dispose();
            _ownedBuffer = BufferPool.Rent(Length);
        }
        _buffer = _ownedBuffer;
        _disposed = false;
    }

    /// <summary>Makes this tensor a view of <paramref name="source"/>'s memory.</summary>
    internal void ResetAsView(Tensor source, ReadOnlySpan<int> shape, ReadOnlySpan<int> strides, long offset)
    {
        SetShape(shape);
        strides.CopyTo(_strides);
        _offset = offset;
        _buffer = source._buffer ?? throw new ObjectDisposedException(source.Describe());
        _disposed = false;
    }

    internal long Offset => _offset;
    internal NativeBuffer? Buffer => _buffer;

    /// <summary>True when this tensor reads its own contiguous memory from the start (not a view of another's).</summary>
    internal bool OwnsContiguousMemory => _ownedBuffer is not null && ReferenceEquals(_buffer, _ownedBuffer) && _offset == 0 && IsContiguous;

    void SetShape(ReadOnlySpan<int> shape)
    {
        if (_shape.Length != shape.Length)
        {
            _shape = new int[shape.Length];
            _strides = new int[shape.Length];
        }
        shape.CopyTo(_shape);
        Length = CheckedLength(shape, "Tensor");
    }

    void FillContiguousStrides()
    {
        int s = 1;
        for (int i = _shape.Length - 1; i >= 0; i--) { _strides[i] = s; s *= Math.Max(_shape[i], 1); }
    }

    internal static int CheckedLength(ReadOnlySpan<int> shape, string op)
    {
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"{op}: negative dimension in shape {ShapeString(shape)}.");
            n *= d;
            if (n > int.MaxValue) throw new ArgumentException($"{op}: shape {ShapeString(shape)} has more than 2^31-1 elements.");
        }
        return (int)n;
    }

    /// <summary>Offsets (into the buffer) of every element in row-major order; for strided copies.</summary>
    internal IEnumerable<long> ElementOffsets()
    {
        if (Length == 0) yield break;
        var index = new int[Rank];
        long off = _offset;
        for (int n = 0; n < Length; n++)
        {
            yield return off;
            for (int d = Rank - 1; d >= 0; d--)
            {
                index[d]++;
                off += _strides[d];
                if (index[d] < _shape[d]) break;
                off -= (long)_strides[d] * _shape[d];
                index[d] = 0;
            }
        }
    }

    internal void RequireContiguous(string op)
    {
        if (!IsContiguous)
            throw new InvalidOperationException($"{op}: tensor {Describe()} is not contiguous; call Contiguous() first.");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int NormalizeAxis(int axis, int rank, string op)
    {
        int a = axis < 0 ? axis + rank : axis;
        if ((uint)a >= (uint)Math.Max(rank, 1) || (rank == 0))
            throw new ArgumentException($"{op}: axis {axis} is out of range for rank {rank}.");
        return a;
    }

    public static string ShapeString(ReadOnlySpan<int> shape)
    {
        var sb = new StringBuilder("(");
        for (int i = 0; i < shape.Length; i++) { if (i > 0) sb.Append(", "); sb.Append(shape[i]); }
        if (shape.Length == 1) sb.Append(',');
        return sb.Append(')').ToString();
    }

    internal string Describe() => Name is null ? ShapeString(Shape) : $"'{Name}' {ShapeString(Shape)}";

    public override string ToString() => $"Tensor{Describe()}";

    /// <summary>Returns owned memory to the pool. Tensors owned by a tape are disposed by the tape.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _ownedBuffer?.Dispose();
        _ownedBuffer = null;
        _buffer = null;
        Grad?.Dispose();
        Grad = null;
    }
}
