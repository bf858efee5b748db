using System.Text.Json.Serialization;
using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Vision.Layers;

/// <summary>What a <see cref="VisionAdapter"/> is: its kind, the vision width it reads, the language model's width it
/// writes, and (resampler only) its learned queries and heads.</summary>
public sealed record VisionAdapterConfig
{
    /// <summary>"linear" (one projection), "mlp" (Linear–GELU–Linear, LLaVA-1.5's projector) or "resampler" (learned
    /// queries cross-attending to the patch features, one block).</summary>
    [JsonPropertyName("kind")] public string Kind { get; init; } = "mlp";
    /// <summary>Width of the vision encoder's tokens (Dv).</summary>
    [JsonPropertyName("input_dim")] public int InputDim { get; init; }
    /// <summary>Width of the language model's embeddings (C).</summary>
    [JsonPropertyName("output_dim")] public int OutputDim { get; init; }
    /// <summary>Resampler: learned queries K, the number of image tokens the language model sees.</summary>
    [JsonPropertyName("queries")] public int Queries { get; init; } = 16;
    /// <summary>Resampler: attention heads (C must be a multiple).</summary>
    [JsonPropertyName("heads")] public int Heads { get; init; } = 4;

    public static readonly string[] Kinds = ["linear", "mlp", "resampler"];

    /// <summary>Checks the config, naming the first bad field.</summary>
    public VisionAdapterConfig Validate()
    {
        if (Array.IndexOf(Kinds, Kind) < 0) throw new ArgumentException($"--adapter '{Kind}' is not one of {string.Join(", ", Kinds)}");
        if (InputDim <= 0 || OutputDim <= 0) throw new ArgumentException($"adapter: input_dim {InputDim} and output_dim {OutputDim} must be positive");
        if (Kind == "resampler")
        {
            if (Queries <= 0) throw new ArgumentException($"--queries {Queries} must be positive");
            if (Heads <= 0 || OutputDim % Heads != 0) throw new ArgumentException($"--adapter-heads {Heads} must divide the language model's width {OutputDim}");
        }
        return this;
    }
}

/// <summary>The bridge of the multimodal recipe: turns a vision encoder's tokens (N, T, Dv) into tokens in a language
/// model's embedding space (N, T', C), which are then placed before the text's token embeddings.
/// <list type="bullet">
/// <item>linear: x·Wᵀ + b, T' = T (LLaVA, Liu et al. 2023).</item>
/// <item>mlp: linear_2(GELU(linear_1(x))), hidden width C, exact (erf) GELU, T' = T (LLaVA-1.5, Liu et al. 2023b).</item>
/// <item>resampler: K learned queries attend to the patch features in one pre-LN block, T' = K (the Perceiver resampler
/// of Flamingo, Alayrac et al. 2022, and BLIP-2's Q-Former queries, Li et al. 2023, cut down to one cross-attention
/// block): h = q + out_proj(Attn(q_proj(LN_q(q)), k_proj(LN_kv(x)), v_proj(LN_kv(x)))); h = h + fc2(GELU(fc1(LN_ff(h))));
/// out = LN_post(h), with fc1 of width 4C.</item>
/// </list>
/// Parameter names follow Hugging Face LLaVA's multi_modal_projector (linear_1, linear_2) under the caller's prefix.</summary>
public sealed class VisionAdapter
{
    readonly VisionAdapterConfig _config;
    readonly LinearLayer _linear1;
    readonly LinearLayer? _linear2;
    // Resampler only.
    readonly Tensor? _query;                                   // (K, C)
    readonly NormLayer? _lnQ, _lnKv, _lnFf, _lnPost;
    readonly LinearLayer? _qProj, _kProj, _vProj, _outProj, _fc2;
    int[] _expand = [];                                        // rows 0…K−1 repeated N times: the queries for a batch

    public VisionAdapterConfig Config => _config;

    internal VisionAdapter(ParameterBuilder p, string prefix, VisionAdapterConfig config)
    {
        _config = config.Validate();
        int dv = config.InputDim, c = config.OutputDim;
        const float std = 0.02f;
        switch (config.Kind)
        {
            case "linear":
                _linear1 = LinearLayer.WithBias(p, prefix + ".linear_1", dv, c, std);
                break;
            case "mlp":
                _linear1 = LinearLayer.WithBias(p, prefix + ".linear_1", dv, c, std);
                _linear2 = LinearLayer.WithBias(p, prefix + ".linear_2", c, c, std);
                break;
            default:
                _query = p.Normal(prefix + ".query", std, decay: false, storedTransposed: false, config.Queries, c);
                _lnQ = new NormLayer(p, prefix + ".ln_q", c, rms: false, eps: 1e-5f);
                _lnKv = new NormLayer(p, prefix + ".ln_kv", dv, rms: false, eps: 1e-5f);
                _qProj = LinearLayer.WithBias(p, prefix + ".attn.q_proj", c, c, std);
                _kProj = LinearLayer.WithBias(p, prefix + ".attn.k_proj", dv, c, std);
                _vProj = LinearLayer.WithBias(p, prefix + ".attn.v_proj", dv, c, std);
                _outProj = LinearLayer.WithBias(p, prefix + ".attn.out_proj", c, c, std);
                _lnFf = new NormLayer(p, prefix + ".ln_ff", c, rms: false, eps: 1e-5f);
                _linear1 = LinearLayer.WithBias(p, prefix + ".mlp.fc1", c, 4 * c, std);
                _fc2 = LinearLayer.WithBias(p, prefix + ".mlp.fc2", 4 * c, c, std);
                _lnPost = new NormLayer(p, prefix + ".ln_post", c, rms: false, eps: 1e-5f);
                break;
        }
    }

    /// <summary>Image tokens the language model receives for <paramref name="visionTokens"/> encoder tokens.</summary>
    public int OutputTokens(int visionTokens) => _config.Kind == "resampler" ? _config.Queries : visionTokens;

    /// <summary>(N, T, Dv) vision tokens → (N, T', C) language-model tokens.</summary>
    public Tensor Forward(Tensor x)
    {
        if (x.Rank != 3 || x.Dim(2) != _config.InputDim)
            throw new ArgumentException($"adapter: vision tokens {Tensor.ShapeString(x.Shape)} must be (N, T, {_config.InputDim})");
        return _config.Kind switch
        {
            "linear" => _linear1.Forward(x),                                                            // (N,T,C)
            "mlp" => _linear2!.Forward(Ops.Gelu(_linear1.Forward(x), tanhApproximation: false)),       // (N,T,C) → (N,T,C)
            _ => Resample(x),
        };
    }

    Tensor Resample(Tensor x)
    {
        int N = x.Dim(0), T = x.Dim(1), K = _config.Queries, C = _config.OutputDim, H = _config.Heads, D = C / H;
        if (_expand.Length != N * K)
        {
            _expand = new int[N * K];
            for (int i = 0; i < _expand.Length; i++) _expand[i] = i % K;
        }
        var q = _qProj!.Forward(_lnQ!.Forward(_query!));                                   // (K,C)
        var qb = Ops.Reshape(Ops.GatherRows(q, _expand), N, K, H, D);                       // (N,K,H,D)
        var kv = _lnKv!.Forward(x);                                                         // (N,T,Dv)
        var k = Ops.Reshape(_kProj!.Forward(kv), N, T, H, D);                               // (N,T,H,D)
        var v = Ops.Reshape(_vProj!.Forward(kv), N, T, H, D);
        var a = Ops.Attention(Ops.Permute(qb, 0, 2, 1, 3), Ops.Permute(k, 0, 2, 1, 3), Ops.Permute(v, 0, 2, 1, 3), causal: false);   // (N,H,K,D)
        var merged = Ops.Reshape(Ops.Contiguous(Ops.Permute(a, 0, 2, 1, 3)), N, K, C);     // (N,K,C)
        var h = Ops.Add(Ops.Reshape(Ops.GatherRows(_query!, _expand), N, K, C), _outProj!.Forward(merged));   // residual on the queries
        var f = _fc2!.Forward(Ops.Gelu(_linear1.Forward(_lnFf!.Forward(h)), tanhApproximation: false));      // (N,K,4C) → (N,K,C)
        return _lnPost!.Forward(Ops.Add(h, f));                                             // (N,K,C)
    }
}
