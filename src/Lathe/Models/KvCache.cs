using Lathe.Tensors;

namespace Lathe.Models;

/// <summary>Keys and values of every layer for the tokens seen so far, preallocated to a capacity: (B, Hkv, capacity,
/// D) per layer, so decoding appends in place and attention reads the prefix without copying it.</summary>
public sealed unsafe class KvCache : IDisposable
{
    readonly Tensor[] _keys;
    readonly Tensor[] _values;

    public int Batch { get; }
    public int Capacity { get; }
    /// <summary>Tokens cached so far (the position of the next token).</summary>
    public int Length { get; private set; }

    public KvCache(ModelConfig config, int batch = 1, int? capacity = null)
    {
        Batch = batch;
        Capacity = capacity ?? config.MaxPositions;
        if (Capacity <= 0 || Capacity > config.MaxPositions)
            throw new ArgumentException($"kv cache: capacity {Capacity} must be in 1..{config.MaxPositions} (the model's context).");
        int D = config.Embd / config.Heads;
        _keys = new Tensor[config.Layers];
        _values = new Tensor[config.Layers];
        for (int l = 0; l < config.Layers; l++)
        {
            _keys[l] = Tensor.Zeros(batch, config.KvHeads, Capacity, D);
            _values[l] = Tensor.Zeros(batch, config.KvHeads, Capacity, D);
        }
    }

    public Tensor Keys(int layer) => _keys[layer];
    public Tensor Values(int layer) => _values[layer];

    /// <summary>Copies the new keys and values (B, Hkv, T, D) of a layer into rows [Length, Length + T).</summary>
    internal void Write(int layer, Tensor k, Tensor v)
    {
        int B = k.Dim(0), Hkv = k.Dim(1), T = k.Dim(2), D = k.Dim(3);
        if (Length + T > Capacity) throw new InvalidOperationException($"kv cache: {Length} + {T} tokens exceed the capacity {Capacity}.");
        var ck = Ops.Contiguous(k);
        var cv = Ops.Contiguous(v);
        for (int bh = 0; bh < B * Hkv; bh++)
        {
            long src = (long)bh * T * D, dst = ((long)bh * Capacity + Length) * D;
            new ReadOnlySpan<float>(ck.Data + src, T * D).CopyTo(new Span<float>(_keys[layer].Data + dst, T * D));
            new ReadOnlySpan<float>(cv.Data + src, T * D).CopyTo(new Span<float>(_values[layer].Data + dst, T * D));
        }
    }

    /// <summary>Marks <paramref name="tokens"/> more positions as filled (after every layer has written them).</summary>
    internal void Advance(int tokens) => Length += tokens;

    public void Reset() => Length = 0;

    /// <summary>Forgets every position from <paramref name="length"/> on, keeping the prefix (e.g. the part of a chat
    /// history that did not change, so only the new turn is processed).</summary>
    public void Truncate(int length)
    {
        if (length < 0 || length > Length) throw new ArgumentOutOfRangeException(nameof(length), $"kv cache: cannot truncate {Length} positions to {length}.");
        Length = length;
    }

    /// <summary>Fills every row with row <paramref name="sourceRow"/> of <paramref name="source"/> (its
    /// <see cref="Length"/> positions) — a prompt processed once, copied to each beam.</summary>
    public void CopyFromRow(KvCache source, int sourceRow)
    {
        if (source._keys.Length != _keys.Length || source.Length > Capacity || (uint)sourceRow >= (uint)source.Batch)
            throw new ArgumentException("kv cache: the source cache does not fit this one.");
        int Hkv = _keys[0].Dim(1), D = _keys[0].Dim(3), n = source.Length * D;
        for (int l = 0; l < _keys.Length; l++)
            for (int b = 0; b < Batch; b++)
                for (int h = 0; h < Hkv; h++)
                {
                    long src = ((long)(sourceRow * Hkv + h) * source.Capacity) * D, dst = ((long)(b * Hkv + h) * Capacity) * D;
                    new ReadOnlySpan<float>(source._keys[l].Data + src, n).CopyTo(new Span<float>(_keys[l].Data + dst, n));
                    new ReadOnlySpan<float>(source._values[l].Data + src, n).CopyTo(new Span<float>(_values[l].Data + dst, n));
                }
        Length = source.Length;
    }

    float[] _reorderScratch = [];

    /// <summary>Row b takes the cached positions of row <paramref name="parents"/>[b] (beam search: each surviving
    /// hypothesis continues some parent's prefix). Reuses one scratch buffer, so it allocates nothing once warm.</summary>
    public void Reorder(ReadOnlySpan<int> parents)
    {
        if (parents.Length != Batch) throw new ArgumentException($"kv cache: {parents.Length} parents for {Batch} rows.");
        bool identity = true;
        for (int b = 0; b < Batch; b++)
        {
            if ((uint)parents[b] >= (uint)Batch) throw new ArgumentException($"kv cache: parent {parents[b]} is not a row below {Batch}.");
            identity &= parents[b] == b;
        }
        if (identity || Length == 0) return;
        int Hkv = _keys[0].Dim(1), D = _keys[0].Dim(3), n = Length * D, rowFloats = Hkv * n;
        if (_reorderScratch.Length < Batch * rowFloats) _reorderScratch = new float[Batch * rowFloats];
        for (int i = 0; i < 2 * _keys.Length; i++)
        {
            var layer = i < _keys.Length ? _keys[i] : _values[i - _keys.Length];
            // Gather every row's prefix into the scratch, then write each row from its parent's copy.
            for (int b = 0; b < Batch; b++)
                for (int h = 0; h < Hkv; h++)
                    new ReadOnlySpan<float>(layer.Data + (long)(b * Hkv + h) * Capacity * D, n).CopyTo(_reorderScratch.AsSpan(b * rowFloats + h * n, n));
            for (int b = 0; b < Batch; b++)
                for (int h = 0; h < Hkv; h++)
                    _reorderScratch.AsSpan(parents[b] * rowFloats + h * n, n).CopyTo(new Span<float>(layer.Data + (long)(b * Hkv + h) * Capacity * D, n));
        }
    }

    public void Dispose()
    {
        foreach (var t in _keys) t.Dispose();
        foreach (var t in _values) t.Dispose();
    }
}
