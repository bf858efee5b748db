using Lathe.Models;
using static Lathe.Formats.GgufMetadata;

namespace Lathe.Formats;

/// <summary>llama.cpp's "gemma2" architecture (src/models/gemma2.cpp): Gemma's (<see cref="GgufGemma"/>) plus post-attention
/// and post-MLP norms, attention-logit and final-logit soft-capping (gemma2.attn_logit_softcapping, default 50;
/// gemma2.final_logit_softcapping, default 30), sliding-window attention (gemma2.attention.sliding_window, default 4096)
/// on the layers of llama.cpp's swa pattern (default 2: the even layers local, the odd ones global; or
/// gemma2.attention.sliding_window_pattern), and llama.cpp's query scale: 1/√attention.key_length, except for the 46-layer
/// 27B model, 1/√(embedding_length / head_count) (Gemma's query_pre_attn_scalar; llama.cpp keys it on the layer count).</summary>
internal sealed class GgufGemma2 : IGgufArchitecture
{
    public string Name => "gemma2";

    public ModelConfig ReadConfig(GgufFile file, int contextLength)
    {
        var c = GgufGemma.Shape(file, "gemma2", contextLength);
        if (file.Metadata.ContainsKey("gemma2.rope.freq_base_swa") && Real(file, "gemma2.rope.freq_base_swa", 0) != c.RopeTheta)
            throw new InvalidDataException($"{file.Path}: gemma2.rope.freq_base_swa {Real(file, "gemma2.rope.freq_base_swa", 0)} differs from rope.freq_base {c.RopeTheta} (a separate local RoPE base is not supported).");
        c = c with
        {
            SlidingWindow = Int(file, "gemma2.attention.sliding_window", 4096),
            SlidingWindowPattern = Pattern(file, c.Layers),
            AttentionSoftCap = (float)Real(file, "gemma2.attn_logit_softcapping", 50),
            FinalLogitSoftCap = (float)Real(file, "gemma2.final_logit_softcapping", 30),
            QueryPreAttnScalar = c.Layers == 46 ? (float)c.Embd / c.Heads : c.HeadDim,
        };
        return Validated(file, c);
    }

    public IEnumerable<GgufTensorSlot> Plan(ModelConfig c) => GgufGemma.Slots(c, gemma2: true);

    // gemma2.attention.sliding_window_pattern: absent → 2; an integer n (0: every layer local); or one bool per layer,
    // which must follow such a pattern (ModelConfig keeps the period, not a list).
    static int Pattern(GgufFile file, int layers)
    {
        const string key = "gemma2.attention.sliding_window_pattern";
        if (!file.Metadata.TryGetValue(key, out var v)) return 2;
        if (v is object[] flags)
        {
            if (flags.Length != layers || flags.Any(f => f is not bool))
                throw new InvalidDataException($"{file.Path}: metadata '{key}' must hold {layers} booleans (one per layer).");
            for (int n = 0; n <= layers; n++)
            {
                bool matches = true;
                for (int l = 0; l < layers && matches; l++) matches = (bool)flags[l] == (n == 0 || l % n < n - 1);
                if (matches) return n;
            }
            throw new InvalidDataException($"{file.Path}: metadata '{key}': this arrangement of local layers is not a repeating pattern Lathe supports.");
        }
        return v is uint or int or ulong or long or ushort or short or byte or sbyte && Convert.ToInt64(v) == 0 ? 0 : Int(file, key);
    }
}
