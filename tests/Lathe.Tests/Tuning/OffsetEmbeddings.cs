using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tuning;

namespace Lathe.Tests.Tuning;

/// <summary>A trivial tuning method for tests of the SFT plumbing: a trained offset per position (T, C) added to the
/// token embeddings and, optionally, P virtual rows (P, C) put before every sequence (prompt tuning's shape). The model
/// itself stays frozen; Save/Load write the two tensors to one safetensors file.</summary>
internal sealed class OffsetEmbeddings : ITuningMethod
{
    readonly CausalLM _model;
    readonly Tensor _offsets;        // (T, C)
    readonly Tensor? _virtual;       // (P, C)
    public const string File = "offsets.safetensors";

    public OffsetEmbeddings(CausalLM model, int T, int virtualTokens, ulong seed)
    {
        _model = model;
        int C = model.Config.Embd;
        var rng = new Philox(seed);
        _offsets = Tensor.Zeros(T, C); rng.FillNormal(_offsets.AsSpan(), 0, 0.1f);
        _offsets.Name = "offsets";
        if (virtualTokens > 0) { _virtual = Tensor.Zeros(virtualTokens, C); rng.FillNormal(_virtual.AsSpan(), 0, 0.5f); _virtual.Name = "virtual"; }
        Trainable = _virtual is null ? [new("offsets", _offsets, false, false)] : [new("offsets", _offsets, false, false), new("virtual", _virtual, false, false)];
    }

    public string Name => "test-offsets";
    public LanguageModel Model => _model;
    public IReadOnlyList<ModelParameter> Trainable { get; }
    public int VirtualTokens => _virtual?.Dim(0) ?? 0;
    public Tensor Offsets => _offsets;

    public Tensor Embed(ReadOnlySpan<int> ids, int B, int T)
    {
        int C = _model.Config.Embd, P = VirtualTokens;
        var x = Ops.Reshape(_model.Embed(ids, B, T), B * T, C);                  // (B·T, C)
        var positions = new int[B * T];
        for (int i = 0; i < positions.Length; i++) positions[i] = i % T;
        x = Ops.Add(x, Ops.GatherRows(_offsets, positions));
        if (P == 0) return Ops.Reshape(x, B, T, C);
        var all = Ops.Concat([_virtual!, x], 0);                                  // (P + B·T, C)
        var rows = new int[B * (P + T)];
        for (int b = 0; b < B; b++)
        {
            for (int p = 0; p < P; p++) rows[b * (P + T) + p] = p;
            for (int t = 0; t < T; t++) rows[b * (P + T) + P + t] = P + b * T + t;
        }
        return Ops.Reshape(Ops.GatherRows(all, rows), B, P + T, C);             // (B, P+T, C)
    }

    public void Save(string dir)
    {
        Directory.CreateDirectory(dir);
        var items = Trainable.Select(p => SafetensorsWriter.F32(p.Name, [p.Value.Dim(0), p.Value.Dim(1)], p.Value.ToArray())).ToList();
        SafetensorsWriter.Write(Path.Combine(dir, File), items);
    }

    public void Load(string dir)
    {
        using var file = SafetensorsFile.Open(Path.Combine(dir, File));
        foreach (var p in Trainable) file.ReadFloats(p.Name).CopyTo(p.Value.AsSpan());
    }

    public void Detach() { }
    public void Attach() { }

    public void Dispose()
    {
        foreach (var p in Trainable) { p.Value.ReleaseGrad(); p.Value.Dispose(); }
    }
}
