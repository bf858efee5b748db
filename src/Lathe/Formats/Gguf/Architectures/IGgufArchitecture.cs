using Lathe.Models;

namespace Lathe.Formats;

/// <summary>One llama.cpp architecture as a GGUF file declares it (<c>general.architecture</c>): how its metadata keys
/// become a <see cref="ModelConfig"/>, and which tensors fill which of the model's parameters. Each architecture is one
/// small file beside this one, listed in <see cref="GgufArchitectures"/>; the loader itself knows none of them.</summary>
internal interface IGgufArchitecture
{
    /// <summary>The <c>general.architecture</c> value this mapping reads ("llama", "gpt2", …).</summary>
    string Name { get; }

    /// <summary>The model shape from the file's metadata (and, where an architecture keeps hyper-parameters in a tensor,
    /// such as Llama 3's <c>rope_freqs.weight</c>, from that tensor). <paramref name="contextLength"/> &gt; 0 overrides
    /// the file's context. Every missing or inconsistent key is a one-line error naming the file and the key.</summary>
    ModelConfig ReadConfig(GgufFile file, int contextLength);

    /// <summary>Tensors <see cref="ReadConfig"/> reads as hyper-parameters rather than weights (Llama 3's
    /// rope_freqs.weight).</summary>
    IReadOnlyList<string> ConfigTensors => [];

    /// <summary>Every tensor the model needs and the parameter it fills, in file order. A file tensor no slot names (and
    /// that <see cref="ReadConfig"/> did not read) is refused, as llama.cpp refuses a file with unused tensors.</summary>
    IEnumerable<GgufTensorSlot> Plan(ModelConfig config);
}

/// <summary>One GGUF tensor and the parameter it becomes: ggml dims (innermost first), whether it is a linear weight
/// (offered to <see cref="GgufLoadOptions.TakeWeight"/>), and the head count of a q/k projection whose rows are
/// un-permuted from ggml's RoPE order (<see cref="GgufRope"/>; 0 for anything else). A parameter that is a slice of a
/// stacked tensor (Phi-3's q|k|v) takes rows <see cref="RowStart"/>.. of it, <see cref="RowCount"/> of them (0: the
/// whole tensor); <see cref="Dims"/> are the whole tensor's. Also the table the LoRA adapter format maps module names
/// with (<see cref="GgufLoraTargets"/>).</summary>
internal readonly record struct GgufTensorSlot(string Tensor, string Parameter, long[] Dims, bool Linear = false, int RopeHeads = 0,
    int RowStart = 0, int RowCount = 0)
{
    /// <summary>Rows the parameter receives (ggml's outer dim, or its slice).</summary>
    public int Rows => RowCount > 0 ? RowCount : Dims.Length == 2 ? (int)Dims[1] : 1;
}
