using Lathe.Models;

namespace Lathe.Formats;

/// <summary>The LoRA pair of one projection in PEFT's layout: A (<see cref="Rank"/>, <see cref="InFeatures"/>) and
/// B (<see cref="OutFeatures"/>, <see cref="Rank"/>), row-major float32, rows of B in Hugging Face order. The update it
/// makes is W + scale·B·A with scale = alpha / Rank (<see cref="GgufLoraAdapter.Scale"/>).</summary>
public sealed record GgufLoraModule(string Name, int Rank, int InFeatures, int OutFeatures, float[] A, float[] B);

/// <summary>llama.cpp's GGUF LoRA adapter file (what its convert_lora_to_gguf.py writes and llama_adapter_lora_init
/// reads): metadata general.type = "adapter", adapter.type = "lora", adapter.lora.alpha (float32) and the base model's
/// general.architecture; per targeted projection two tensors named after the base tensor, "&lt;base&gt;.lora_a" with
/// ggml dims [in, r] (PEFT's A, (r, in) row-major) and "&lt;base&gt;.lora_b" with dims [r, out] (PEFT's B), F32 or F16,
/// written pair by pair. llama.cpp adds userScale·(alpha / r)·B·(A·x) to the projection's output, r being B's dims[0]
/// (per pair, so ranks may differ), or userScale·B·(A·x) when alpha is 0 or absent. For llama the base q/k rows are in
/// ggml's RoPE order (<see cref="GgufRope"/>), and llama.cpp's converter permutes B's rows the same way (A is
/// untouched, since the permutation acts on output rows only); this class does and undoes that too.</summary>
public sealed class GgufLoraAdapter
{
    const string TypeKey = "general.type", AdapterTypeKey = "adapter.type", AlphaKey = "adapter.lora.alpha";

    GgufLoraAdapter(string architecture, float alpha, IReadOnlyList<GgufLoraModule> modules, IReadOnlyList<string> ignored)
    {
        Architecture = architecture; Alpha = alpha; Modules = modules; IgnoredTensors = ignored;
    }

    /// <summary>general.architecture: "llama" or "gpt2".</summary>
    public string Architecture { get; }

    /// <summary>adapter.lora.alpha; 0 when the file has none (llama.cpp then scales by the user scale alone).</summary>
    public float Alpha { get; }

    /// <summary>The pairs, in the model's projection order, with Hugging Face module names and rows.</summary>
    public IReadOnlyList<GgufLoraModule> Modules { get; }

    /// <summary>Norm vectors ("…_norm.weight") some tools put into adapters; llama.cpp skips them, and so does this reader.</summary>
    public IReadOnlyList<string> IgnoredTensors { get; }

    /// <summary>The rank shared by every pair, or 0 when the pairs' ranks differ.</summary>
    public int Rank => Modules.Count > 0 && Modules.All(m => m.Rank == Modules[0].Rank) ? Modules[0].Rank : 0;

    /// <summary>The factor llama.cpp multiplies B·A·x by for <paramref name="module"/>: userScale·alpha/r, or userScale
    /// when alpha is 0.</summary>
    public float Scale(GgufLoraModule module, float userScale = 1f) => Alpha == 0 ? userScale : userScale * Alpha / module.Rank;

    /// <summary>Writes an adapter for a model of <paramref name="config"/> (its model_type is the architecture; its
    /// shapes and head counts check and permute the pairs) atomically. Every module must name a GGUF-mapped projection
    /// (<see cref="GgufLoraTargets"/>) with matching shapes; <paramref name="type"/> is F32 or F16 (llama.cpp reads both).
    /// Everything is checked before a byte is written.</summary>
    public static void Write(string path, ModelConfig config, float alpha, IReadOnlyList<GgufLoraModule> modules,
        GgmlType type = GgmlType.F32, string name = "lathe-lora")
    {
        if (!(alpha > 0) || float.IsInfinity(alpha))
            throw new ArgumentException($"GGUF LoRA: alpha {alpha} must be positive and finite (llama.cpp reads 0 as 'no alpha').", nameof(alpha));
        if (type is not (GgmlType.F32 or GgmlType.F16))
            throw new ArgumentException($"GGUF LoRA: tensor type {type} is not supported for adapters (F32, F16).", nameof(type));
        if (modules.Count == 0) throw new ArgumentException("GGUF LoRA: no modules to write.", nameof(modules));
        var targets = GgufLoraTargets.For(config);
        var byModule = new Dictionary<string, GgufLoraModule>(StringComparer.Ordinal);
        foreach (var m in modules)
        {
            var t = targets.FirstOrDefault(t => t.Module == m.Name);
            if (t.Module is null)
                throw new ArgumentException($"GGUF LoRA: module '{m.Name}' has no tensor in a {config.ModelType} GGUF file (projections: {Examples(targets)}).", nameof(modules));
            if (!byModule.TryAdd(m.Name, m)) throw new ArgumentException($"GGUF LoRA: module '{m.Name}' is given twice.", nameof(modules));
            if (m.Rank <= 0 || m.InFeatures != t.InFeatures || m.OutFeatures != t.OutFeatures)
                throw new ArgumentException($"GGUF LoRA: module '{m.Name}' has rank {m.Rank}, (out {m.OutFeatures}, in {m.InFeatures}); the model's projection is (out {t.OutFeatures}, in {t.InFeatures}).", nameof(modules));
            if (m.A.Length != (long)m.Rank * m.InFeatures || m.B.Length != (long)m.OutFeatures * m.Rank)
                throw new ArgumentException($"GGUF LoRA: module '{m.Name}': A holds {m.A.Length} values and B {m.B.Length}, expected {m.Rank}×{m.InFeatures} and {m.OutFeatures}×{m.Rank}.", nameof(modules));
        }
        var w = new GgufWriter();
        w.Add("general.architecture", config.ModelType).Add(TypeKey, "adapter").Add("general.name", name)
         .Add(AdapterTypeKey, "lora").Add(AlphaKey, alpha);
        foreach (var t in targets)
        {
            if (!byModule.TryGetValue(t.Module, out var m)) continue;
            float[] b = t.RopeHeads > 0 ? GgufRope.PermuteRows(m.B, m.OutFeatures, m.Rank, t.RopeHeads) : m.B;
            w.AddTensor(t.Tensor + ".lora_a", [m.InFeatures, m.Rank], type, GgufExport.Encode(m.A, type));
            w.AddTensor(t.Tensor + ".lora_b", [m.Rank, m.OutFeatures], type, GgufExport.Encode(b, type));
        }
        w.Save(path);
    }

    /// <summary>Reads an adapter for a model of <paramref name="config"/>: one-line errors for a file that is not a
    /// LoRA adapter, an architecture other than the model's, a tensor with no base projection in the model, an
    /// unpaired tensor, or a shape that does not fit the projection (naming the tensor and both shapes).</summary>
    public static GgufLoraAdapter Read(string path, ModelConfig config)
    {
        using var file = GgufFile.Open(path);
        string kind = file.Metadata.TryGetValue(TypeKey, out var k) && k is string ks ? ks : "";
        if (kind != "adapter")
            throw new InvalidDataException($"{path}: not a LoRA adapter ({TypeKey} is {(kind.Length == 0 ? "missing" : $"'{kind}'")}, expected 'adapter').");
        string adapterType = file.Metadata.TryGetValue(AdapterTypeKey, out var at) && at is string ats ? ats : "";
        if (adapterType != "lora")
            throw new InvalidDataException($"{path}: {AdapterTypeKey} is {(adapterType.Length == 0 ? "missing" : $"'{adapterType}'")}, expected 'lora'.");
        if (file.Metadata.ContainsKey("adapter.alora.invocation_tokens"))
            throw new InvalidDataException($"{path}: adapter.alora.invocation_tokens: activated LoRA (applied only after invocation tokens) is not supported.");
        string arch = file.Metadata.TryGetValue("general.architecture", out var a) && a is string s ? s
            : throw new InvalidDataException($"{path}: metadata 'general.architecture' is missing.");
        if (arch != config.ModelType)
            throw new InvalidDataException($"{path}: the adapter is for architecture '{arch}' but the model is '{config.ModelType}'.");
        float alpha = 0;
        if (file.Metadata.TryGetValue(AlphaKey, out var av))
        {
            alpha = av is float f ? f : throw new InvalidDataException($"{path}: metadata '{AlphaKey}' is a {av.GetType().Name}, not a float32.");
            if (!(alpha >= 0) || float.IsInfinity(alpha)) throw new InvalidDataException($"{path}: metadata '{AlphaKey}' = {alpha} is not a finite non-negative number.");
        }

        var pairs = new Dictionary<string, (GgufTensorInfo? A, GgufTensorInfo? B)>(StringComparer.Ordinal);
        var ignored = new List<string>();
        foreach (var t in file.Tensors)
        {
            bool isA = t.Name.EndsWith(".lora_a", StringComparison.Ordinal), isB = t.Name.EndsWith(".lora_b", StringComparison.Ordinal);
            if (!isA && !isB)
            {
                if (t.Name.EndsWith("_norm.weight", StringComparison.Ordinal)) { ignored.Add(t.Name); continue; }
                throw new InvalidDataException($"{path}: tensor '{t.Name}' is neither a '.lora_a' nor a '.lora_b' tensor.");
            }
            string baseName = t.Name[..^".lora_a".Length];
            pairs.TryGetValue(baseName, out var pair);
            if ((isA ? pair.A : pair.B) is not null) throw new InvalidDataException($"{path}: tensor '{t.Name}' appears twice.");
            pairs[baseName] = isA ? (t, pair.B) : (pair.A, t);
        }
        if (pairs.Count == 0) throw new InvalidDataException($"{path}: the adapter has no .lora_a/.lora_b tensors.");

        var targets = GgufLoraTargets.For(config);
        foreach (var (baseName, pair) in pairs)
        {
            if (pair.A is null || pair.B is null)
                throw new InvalidDataException($"{path}: tensor '{baseName}.{(pair.A is null ? "lora_b" : "lora_a")}' has no '{baseName}.{(pair.A is null ? "lora_a" : "lora_b")}' partner.");
            if (!targets.Any(t => t.Tensor == baseName))
                throw new InvalidDataException(baseName == "token_embd.weight"
                    ? $"{path}: tensor '{baseName}.lora_a': a LoRA on the token embedding is not supported."
                    : $"{path}: tensor '{baseName}.lora_a' has no base projection '{baseName}' in this {config.ModelType} model (wrong base model?).");
        }

        var modules = new List<GgufLoraModule>();
        foreach (var t in targets)
        {
            if (!pairs.TryGetValue(t.Tensor, out var pair)) continue;
            var (ai, bi) = (pair.A!, pair.B!);
            int rank = bi.Dims.Length == 2 ? (int)Math.Min(bi.Dims[0], int.MaxValue) : 0;
            if (ai.Dims.Length != 2 || ai.Dims[0] != t.InFeatures || ai.Dims[1] != rank || bi.Dims.Length != 2 || bi.Dims[1] != t.OutFeatures)
                throw new InvalidDataException($"{path}: tensors '{ai.Name}' [{string.Join(", ", ai.Dims)}] and '{bi.Name}' [{string.Join(", ", bi.Dims)}] do not fit '{t.Module}' (out {t.OutFeatures}, in {t.InFeatures}): expected [{t.InFeatures}, r] and [r, {t.OutFeatures}] (ggml order).");
            float[] b = file.ReadFloats(bi.Name);
            if (t.RopeHeads > 0) b = GgufRope.UnpermuteRows(b, t.OutFeatures, rank, t.RopeHeads);
            modules.Add(new GgufLoraModule(t.Module, rank, t.InFeatures, t.OutFeatures, file.ReadFloats(ai.Name), b));
        }
        return new GgufLoraAdapter(arch, alpha, modules, ignored);
    }

    static string Examples(IReadOnlyList<GgufLoraTarget> targets) =>
        string.Join(", ", targets.Take(4).Select(t => t.Module)) + (targets.Count > 4 ? ", …" : "");
}
