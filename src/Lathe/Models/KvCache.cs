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

    public void Dispose()
    {
        foreach (var t in _keys) t.Dispose();
        foreach (var t in _values) t.Dispose();
    }
}
