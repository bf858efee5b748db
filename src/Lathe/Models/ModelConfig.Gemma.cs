namespace Lathe.Models;

// Gemma (model_type "gemma") and Gemma 2 ("gemma2"): the fields beyond Llama's shape. Both are read from GGUF files only
// (Formats/Gguf/GgufGemma.cs): Lathe's Gemma norm weights hold the multiplier itself — Hugging Face's 1 + weight, as
// llama.cpp's converter stores it — so a Hugging Face config.json with its zero-centred norm weights is refused rather
// than read wrongly, and a Gemma config is not written as config.json.
public sealed partial record ModelConfig
{
    /// <summary>Gemma or Gemma 2: RMSNorm, GeGLU MLP, embeddings scaled by √C, a head tied to the embeddings.</summary>
    public bool IsGemma => ModelType is "gemma" or "gemma2";

    /// <summary>Sliding-window attention width (Hugging Face's <c>sliding_window</c>, GGUF <c>attention.sliding_window</c>):
    /// a local layer's query sees its last SlidingWindow keys, its own included. 0 = no local layers. Llama (Mistral,
    /// ModelConfig.LlamaVariants.cs): every layer is local; Gemma 2: the layers <see cref="SlidingWindowPattern"/> names.</summary>
    public int SlidingWindow { get; init; }

    /// <summary>Which layers are local when <see cref="SlidingWindow"/> &gt; 0, as llama.cpp's swa pattern n: layer l
    /// is local iff n = 0 or l mod n &lt; n − 1 (Gemma 2: n = 2, the even layers local, the odd ones global; 0: every
    /// layer; 1: none).</summary>
    public int SlidingWindowPattern { get; init; } = 2;

    /// <summary>Attention-logit soft cap c (Gemma 2's attn_logit_softcapping): scores become c·tanh(score / c); 0 = none.</summary>
    public float AttentionSoftCap { get; init; }

    /// <summary>Final-logit soft cap c (Gemma 2's final_logit_softcapping): logits become c·tanh(logit / c); 0 = none.</summary>
    public float FinalLogitSoftCap { get; init; }

    /// <summary>Queries are scaled by 1/√QueryPreAttnScalar (Gemma 2's query_pre_attn_scalar); 0 = the head dim.</summary>
    public float QueryPreAttnScalar { get; init; }

    /// <summary>Whether layer <paramref name="layer"/> attends through the sliding window.</summary>
    public bool IsSlidingLayer(int layer) =>
        SlidingWindow > 0 && (SlidingWindowPattern == 0 || layer % SlidingWindowPattern < SlidingWindowPattern - 1);

    void ValidateGemma()
    {
        if (!IsGemma)
        {
            if ((SlidingWindow != 0 && ModelType != "llama") || AttentionSoftCap != 0 || FinalLogitSoftCap != 0 || QueryPreAttnScalar != 0)
                Fail("sliding_window", $"sliding windows (llama and Gemma), soft caps and query_pre_attn_scalar (Gemma) are not {ModelType}'s");
            return;
        }
        if (HeadDim % 2 != 0) Fail("head_dim", $"head dim {HeadDim} must be even for RoPE");
        if (SlidingWindowPattern < 0) Fail("sliding_window_pattern", $"{SlidingWindowPattern} must be ≥ 0");
        if (!(AttentionSoftCap >= 0 && float.IsFinite(AttentionSoftCap))) Fail("attn_logit_softcapping", $"{AttentionSoftCap} must be ≥ 0");
        if (!(FinalLogitSoftCap >= 0 && float.IsFinite(FinalLogitSoftCap))) Fail("final_logit_softcapping", $"{FinalLogitSoftCap} must be ≥ 0");
        if (!(QueryPreAttnScalar >= 0 && float.IsFinite(QueryPreAttnScalar))) Fail("query_pre_attn_scalar", $"{QueryPreAttnScalar} must be ≥ 0");
        if (!TieEmbeddings) Fail("tie_word_embeddings", "Gemma's head is always tied to the embeddings");
        if (NumExperts != 0) Fail("num_local_experts", "Gemma has no mixture-of-experts layers");
    }
}
