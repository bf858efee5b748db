using Lathe.Tensors.Quantized;

namespace Lathe.Tuning;

/// <summary>The hyper-parameters of every fine-tuning method, as the command line gives them; each method reads its own
/// (LoRA: rank, alpha, dropout, targets, rsLoRA; QLoRA: those and the base's quantization; prefix and prompt tuning:
/// virtual tokens and the MLP width or init text; bottleneck adapters: the bottleneck and activation; full: layers).</summary>
public sealed record TuningOptions
{
    public const string Full = "full", Lora = "lora", Qlora = "qlora", Prefix = "prefix", Prompt = "prompt", Adapter = "adapter";
    public static readonly string[] Methods = [Full, Lora, Qlora, Prefix, Prompt, Adapter];

    public string Method { get; init; } = Lora;
    public int Rank { get; init; } = 8;
    public float Alpha { get; init; } = 16;
    public float Dropout { get; init; }
    /// <summary>Module names or suffixes ("c_attn", "q_proj,v_proj") or "all-linear"; null: the architecture's PEFT default.</summary>
    public string? Targets { get; init; }
    public bool RsLora { get; init; }
    /// <summary>QLoRA's base: Q4_0 (the paper's 4-bit) or Q8_0.</summary>
    public QuantType Quant { get; init; } = QuantType.Q4_0;
    public int VirtualTokens { get; init; } = 16;
    /// <summary>Prefix tuning's reparameterisation MLP width (0: a plain table, no MLP).</summary>
    public int PrefixProjection { get; init; } = 256;
    /// <summary>Prompt tuning's init text (null: random init).</summary>
    public string? InitText { get; init; }
    public int Bottleneck { get; init; } = 64;
    public string Activation { get; init; } = "gelu";
    /// <summary>Full fine-tuning: only these blocks (null: every parameter).</summary>
    public IReadOnlyCollection<int>? Layers { get; init; }

    /// <summary>One-line errors naming the option.</summary>
    public TuningOptions Validate()
    {
        if (!Methods.Contains(Method)) throw new ArgumentException($"--method: '{Method}' is not one of {string.Join(", ", Methods)}");
        if (Rank <= 0) throw new ArgumentException($"--rank: {Rank} must be positive");
        if (!(Alpha > 0) || !float.IsFinite(Alpha)) throw new ArgumentException($"--alpha: {Alpha} must be positive");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentException($"--dropout: {Dropout} must be in [0, 1)");
        if (VirtualTokens <= 0) throw new ArgumentException($"--virtual-tokens: {VirtualTokens} must be positive");
        if (PrefixProjection < 0) throw new ArgumentException($"--prefix-projection: {PrefixProjection} must be ≥ 0");
        if (Bottleneck <= 0) throw new ArgumentException($"--bottleneck: {Bottleneck} must be positive");
        if (Quant is not (QuantType.Q4_0 or QuantType.Q8_0)) throw new ArgumentException($"--quant: {Quant} is not q4_0 or q8_0");
        return this;
    }
}
