namespace Lathe.Formats;

/// <summary>What a GGUF export or re-encoding stores each tensor as: a general.file_type (llama.cpp's LLAMA_FTYPE_*),
/// a type per tensor name, and optionally an importance row per weight (one value per column, an importance matrix's
/// entry) that the k-quant encoders weight their rounding error with. <see cref="Uniform"/> is one type for every
/// 2-D weight; a llama.cpp preset's mix is built by Compression's quantizer from <see cref="GgufExport.TensorShapes"/>.</summary>
public sealed class GgufTypePlan
{
    readonly IReadOnlyDictionary<string, GgmlType>? _types;
    readonly IReadOnlyDictionary<string, float[]>? _importance;
    readonly GgmlType _uniform;

    /// <summary>The general.file_type written.</summary>
    public uint FileType { get; }

    /// <summary>Whether general.quantization_version is written, as llama.cpp's quantizer does (a per-tensor plan is a
    /// preset's; a uniform plan keeps the files Lathe wrote before presets existed byte for byte).</summary>
    public bool WritesQuantizationVersion => _types is not null;

    GgufTypePlan(uint fileType, GgmlType uniform, IReadOnlyDictionary<string, GgmlType>? types, IReadOnlyDictionary<string, float[]>? importance)
    {
        FileType = fileType;
        _uniform = uniform;
        _types = types;
        _importance = importance;
    }

    /// <summary>Every 2-D ".weight" tensor but position embeddings in <paramref name="type"/>, or F32 where its blocks
    /// do not tile the rows; other tensors keep their type.</summary>
    public static GgufTypePlan Uniform(GgmlType type) => new(UniformFileType(type), type, null, null);

    /// <summary>Each tensor named in <paramref name="types"/> in that type (others keep theirs), with the importance
    /// rows of <paramref name="importance"/> for the tensors it names.</summary>
    public static GgufTypePlan PerTensor(uint fileType, IReadOnlyDictionary<string, GgmlType> types, IReadOnlyDictionary<string, float[]>? importance = null)
        => new(fileType, GgmlType.F32, types, importance);

    /// <summary>The stored type of tensor <paramref name="name"/> of ggml dims <paramref name="dims"/>, now of
    /// <paramref name="current"/> type.</summary>
    public GgmlType TypeOf(string name, long[] dims, GgmlType current)
    {
        if (_types is not null) return _types.TryGetValue(name, out var t) ? t : current;
        bool weight = dims.Length == 2 && name.EndsWith(".weight", StringComparison.Ordinal) && name != "position_embd.weight";
        return weight ? GgufExport.StoredType(_uniform, dims[0]) : current;
    }

    /// <summary>The importance row of tensor <paramref name="name"/>, or null.</summary>
    public float[]? ImportanceOf(string name) => _importance is not null && _importance.TryGetValue(name, out var row) ? row : null;

    // llama.cpp's general.file_type for an all-of-one-type file; a k-quant alone is written as its _M preset's number,
    // as llama.cpp's --pure keeps the preset's file_type.
    static uint UniformFileType(GgmlType type) => type switch
    {
        GgmlType.F32 => 0u, GgmlType.F16 => 1u, GgmlType.Q4_0 => 2u, GgmlType.Q8_0 => 7u, GgmlType.BF16 => 32u,
        GgmlType.Q2_K => 10u, GgmlType.Q3_K => 12u, GgmlType.Q4_K => 15u, GgmlType.Q5_K => 17u, GgmlType.Q6_K => 18u,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown ggml type"),
    };
}
