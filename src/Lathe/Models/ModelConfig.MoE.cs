using System.Globalization;
using System.Text.Json.Nodes;

namespace Lathe.Models;

// Mixture-of-Experts feed-forward and the gpt2 positional-encoding choice. config.json names: Hugging Face
// Mixtral's for the MoE (num_local_experts, num_experts_per_tok, router_aux_loss_coef), Switch/ST-MoE's for
// router_z_loss_coef and capacity_factor, and moe_every for which layers are sparse. With num_local_experts = 0
// (the default) a model is dense and none of these fields is written.
public sealed partial record ModelConfig
{
    /// <summary>Experts per MoE layer (E); 0 = dense MLPs everywhere.</summary>
    public int NumExperts { get; init; }
    /// <summary>Experts each token is routed to (k): 1 = Switch (gate = the router probability), ≥ 2 =
    /// Mixtral-style (the k probabilities renormalised to sum to 1).</summary>
    public int ExpertsPerToken { get; init; } = 2;
    /// <summary>Layer l (0-based) is an MoE layer when (l + 1) % MoeEvery == 0: 1 = every layer, 2 = every other.</summary>
    public int MoeEvery { get; init; } = 1;
    /// <summary>Weight of the Switch load-balancing loss E·Σ_e f_e·P_e (summed over MoE layers).</summary>
    public float RouterAuxLossCoef { get; init; } = 0.01f;
    /// <summary>Weight of the ST-MoE router z-loss mean(logsumexp(router logits)²) (summed over MoE layers).</summary>
    public float RouterZLossCoef { get; init; } = 0.001f;
    /// <summary>Expert capacity = ⌈capacity_factor · tokens · k / E⌉ in training passes; 0 = unlimited.</summary>
    public float CapacityFactor { get; init; }

    readonly string? _positionEmbeddingType;
    /// <summary>gpt2: "learned" (default, transformer.wpe), "sinusoidal" (fixed Vaswani table), "alibi" (Press et al.
    /// linear biases) or "rope" (rotary on q and k). Llama: always "rope".</summary>
    public string PositionEmbeddingType
    {
        get => _positionEmbeddingType ?? (ModelType == "llama" ? "rope" : "learned");
        init => _positionEmbeddingType = value;
    }

    /// <summary>Whether layer <paramref name="layer"/> uses the MoE feed-forward.</summary>
    public bool IsMoeLayer(int layer) => NumExperts > 0 && (layer + 1) % MoeEvery == 0;

    static readonly string[] PositionTypes = ["learned", "sinusoidal", "alibi", "rope"];

    static ModelConfig ParseMoE(JsonObject node, ModelConfig c)
    {
        var moe = c with
        {
            NumExperts = Int(node, "num_local_experts") ?? c.NumExperts,
            ExpertsPerToken = Int(node, "num_experts_per_tok") ?? c.ExpertsPerToken,
            MoeEvery = Int(node, "moe_every") ?? c.MoeEvery,
            RouterAuxLossCoef = (float)(Dbl(node, "router_aux_loss_coef") ?? c.RouterAuxLossCoef),
            RouterZLossCoef = (float)(Dbl(node, "router_z_loss_coef") ?? c.RouterZLossCoef),
            CapacityFactor = (float)(Dbl(node, "capacity_factor") ?? c.CapacityFactor),
        };
        // Set only when present, so a config without the field equals one built in code.
        return Str(node, "position_embedding_type") is { } position ? moe with { PositionEmbeddingType = position } : moe;
    }

    void WriteMoE(JsonObject o)
    {
        if (ModelType == "gpt2" && PositionEmbeddingType != "learned") o["position_embedding_type"] = PositionEmbeddingType;
        if (NumExperts == 0) return;
        if (ModelType == "llama")
        {
            // Hugging Face's Mixtral reads these names; moe_every, capacity_factor and the z-loss are ours (it ignores them).
            o["architectures"] = new JsonArray("MixtralForCausalLM");
            o["model_type"] = "mixtral";
        }
        o["num_local_experts"] = NumExperts;
        o["num_experts_per_tok"] = ExpertsPerToken;
        o["moe_every"] = MoeEvery;
        o["router_aux_loss_coef"] = RouterAuxLossCoef;
        o["router_z_loss_coef"] = RouterZLossCoef;
        o["capacity_factor"] = CapacityFactor;
    }

    void ValidateMoE()
    {
        if (ModelType == "gpt2" || ModelType == "llama")
        {
            if (Array.IndexOf(PositionTypes, PositionEmbeddingType) < 0)
                Fail("position_embedding_type", $"'{PositionEmbeddingType}' is not one of {string.Join(", ", PositionTypes)}");
            if (ModelType == "llama" && PositionEmbeddingType != "rope") Fail("position_embedding_type", "llama always uses rope");
            if (PositionEmbeddingType == "rope" && HeadDim % 2 != 0) Fail("position_embedding_type", $"rope needs an even head dim, not {HeadDim}");
        }
        if (NumExperts < 0) Fail("num_local_experts", $"{NumExperts} must be ≥ 0");
        if (NumExperts == 0) return;
        if (ModelType != "gpt2" && ModelType != "llama") Fail("num_local_experts", $"mixture-of-experts layers exist for gpt2 and llama, not {ModelType}");
        if (ExpertsPerToken < 1 || ExpertsPerToken > NumExperts)
            Fail("num_experts_per_tok", $"{ExpertsPerToken} must be in 1..num_local_experts ({NumExperts})");
        if (MoeEvery < 1 || MoeEvery > Layers) Fail("moe_every", $"{MoeEvery} must be in 1..{Layers} (the number of layers)");
        if (!(RouterAuxLossCoef >= 0 && float.IsFinite(RouterAuxLossCoef))) Fail("router_aux_loss_coef", $"{RouterAuxLossCoef} must be ≥ 0");
        if (!(RouterZLossCoef >= 0 && float.IsFinite(RouterZLossCoef))) Fail("router_z_loss_coef", $"{RouterZLossCoef} must be ≥ 0");
        if (!(CapacityFactor >= 0 && float.IsFinite(CapacityFactor))) Fail("capacity_factor", $"{CapacityFactor} must be ≥ 0 (0 = unlimited)");
    }

    /// <summary>Applies an MoE / position override, or null when <paramref name="field"/> is not one of them.</summary>
    ModelConfig? WithMoE(string field, string value)
    {
        int I() => int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v
            : throw new InvalidDataException($"config: {field}: '{value}' is not an integer");
        float F() => float.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) ? v
            : throw new InvalidDataException($"config: {field}: '{value}' is not a number");
        if (ModelType != "gpt2" && ModelType != "llama") return null;
        return field switch
        {
            "num_local_experts" => this with { NumExperts = I() },
            "num_experts_per_tok" => this with { ExpertsPerToken = I() },
            "moe_every" => this with { MoeEvery = I() },
            "router_aux_loss_coef" => this with { RouterAuxLossCoef = F() },
            "router_z_loss_coef" => this with { RouterZLossCoef = F() },
            "capacity_factor" => this with { CapacityFactor = F() },
            "position_embedding_type" => this with { PositionEmbeddingType = value },
            _ => null,
        };
    }
}
