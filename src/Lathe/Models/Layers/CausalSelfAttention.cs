using Lathe.Tensors;
using Lathe.Tensors.Quantized;

namespace Lathe.Models;

/// <summary>Causal multi-head self-attention shared by the decoder architectures: the projections (GPT-2's fused
/// c_attn, or Llama's separate q/k/v with grouped-query kv heads), the position scheme that acts inside attention
/// (rotary q/k, or ALiBi on the scores), and the output projection. The fast-path choice lives here once: training and
/// full-sequence scoring run <see cref="Ops.AttentionPacked"/> / <see cref="Ops.AttentionTokenMajor"/> on the
/// projections' token-major layout (split heads through <see cref="Ops.Attention"/> only for an additive bias); the
/// cached path runs through an <see cref="IKvCache"/>, rows of several sequences at once. Optional prefix keys and
/// values (prefix tuning) join both paths. Holds weights (and the caller's prefix) only, no per-request state.</summary>
internal sealed class CausalSelfAttention
{
    readonly LinearLayer? _qkv;            // (3·H·D, C): GPT-2 c_attn, q|k|v side by side (H·D = C unless heads were pruned)
    readonly LinearLayer? _q, _k, _v;      // (H·D, C), (Hkv·D, C), (Hkv·D, C): Llama
    readonly LinearLayer _proj;            // (C, H·D)
    readonly int _heads, _kvHeads, _headDim;
    readonly RopeTables? _rope;
    readonly Tensor? _alibi;               // (H, maxT): −m_h·d by distance d, shared by the layers; the model owns it
    readonly int _window;                  // > 0: sliding window (each query sees its last _window keys)
    readonly float _softCap;               // > 0: scores soft-capped to ±_softCap (Gemma 2)
    readonly float? _scale;                // null: 1/√D
    // With quantized weights, q/k/v run as one stacked matrix: one activation quantization and one pool dispatch
    // instead of three per token. The layers' own matrices then borrow rows of it.
    QuantizedMatrix? _fusedQkv;

    CausalSelfAttention(LinearLayer? qkv, LinearLayer? q, LinearLayer? k, LinearLayer? v, LinearLayer proj, ModelConfig c, RopeTables? rope, Tensor? alibi,
        int window = 0, float softCap = 0, float? scale = null)
    {
        _qkv = qkv; _q = q; _k = k; _v = v; _proj = proj;
        _heads = c.Heads; _kvHeads = c.KvHeads; _headDim = c.HeadDim;
        _rope = rope;
        _alibi = alibi;
        _window = window; _softCap = softCap; _scale = scale;
    }

    /// <summary>GPT-2's attention (HF names <paramref name="prefix"/>.c_attn, .c_proj; Conv1D layout): one fused
    /// projection to q, k, v of H heads each; rotary positions, or ALiBi (<paramref name="alibi"/>: the (H, maxT)
    /// distance table of <see cref="PositionalEncodings.AlibiDistances"/>) when given.</summary>
    public static CausalSelfAttention Gpt2(ParameterBuilder p, string prefix, ModelConfig c, float std, float residualStd, RopeTables? rope, Tensor? alibi) =>
        new(LinearLayer.Conv1D(p, prefix + ".c_attn", c.Embd, 3 * c.Heads * c.HeadDim, std), null, null, null,
            LinearLayer.Conv1D(p, prefix + ".c_proj", c.Heads * c.HeadDim, c.Embd, residualStd), c, rope, alibi);

    /// <summary>Llama's attention (HF names <paramref name="prefix"/>.q_proj, k_proj, v_proj, o_proj; no biases, or q/k/v
    /// biases for Qwen2):
    /// grouped-query heads and rotary positions. <paramref name="window"/> &gt; 0 makes it sliding-window attention
    /// (each query sees its last <paramref name="window"/> keys, its own included — Mistral, Gemma 2's local layers);
    /// <paramref name="softCap"/> &gt; 0 soft-caps the scaled scores to ±softCap (Gemma 2; inference only);
    /// <paramref name="scale"/> replaces 1/√D. All three act on the training forward and the cached path alike.</summary>
    public static CausalSelfAttention Llama(ParameterBuilder p, string prefix, ModelConfig c, float std, float residualStd, RopeTables rope,
        int window = 0, float softCap = 0, float? scale = null)
    {
        int D = c.HeadDim;
        // Qwen2: q, k and v carry biases (ModelConfig.AttentionQkvBias); o_proj never does.
        Func<ParameterBuilder, string, int, int, float, LinearLayer> projection = c.AttentionQkvBias ? LinearLayer.WithBias : LinearLayer.NoBias;
        var q = projection(p, prefix + ".q_proj", c.Embd, c.Heads * D, std);
        var k = projection(p, prefix + ".k_proj", c.Embd, c.KvHeads * D, std);
        var v = projection(p, prefix + ".v_proj", c.Embd, c.KvHeads * D, std);
        return new(null, q, k, v, LinearLayer.NoBias(p, prefix + ".o_proj", c.Heads * D, c.Embd, residualStd), c, rope, null, window, softCap, scale);
    }

    (Tensor Keys, Tensor Values)? _prefix;

    /// <summary>Prefix tuning (Li &amp; Liang 2021): P key and value rows, (Hkv, P, D) each, that every query sees before
    /// its own sequence's keys — with no position (not rotated, no ALiBi). The tensors are the caller's (trainable:
    /// the training path's gradient reaches them); null removes the prefix.</summary>
    public void SetPrefix(Tensor? keys, Tensor? values)
    {
        if (keys is null && values is null) { _prefix = null; return; }
        if (keys is null || values is null || keys.Rank != 3 || !keys.Shape.SequenceEqual(values.Shape)
            || keys.Shape[0] != _kvHeads || keys.Shape[2] != _headDim || keys.Shape[1] <= 0)
            throw new ArgumentException($"attention prefix: keys {(keys is null ? "none" : Tensor.ShapeString(keys.Shape))} and values {(values is null ? "none" : Tensor.ShapeString(values.Shape))} must both be ({_kvHeads}, P, {_headDim}) with P ≥ 1.");
        if (_alibi is not null) throw new ArgumentException("attention prefix: not with ALiBi positions (a prefix row has no position).");
        if (_window > 0 || _softCap > 0) throw new ArgumentException("attention prefix: not with sliding-window or soft-capped attention.");
        _prefix = (keys, values);
    }

    public IEnumerable<LinearLayer> Linears
    {
        get
        {
            if (_qkv is not null) yield return _qkv;
            else { yield return _q!; yield return _k!; yield return _v!; }
            yield return _proj;
        }
    }

    /// <summary>Stacks separate quantized q/k/v into one matrix (after quantization or a GGUF load).</summary>
    public void FuseQuantized()
    {
        DisposeFused();
        if (_q is not null) _fusedQkv = QuantizedFusion.Stack(_q, _k!, _v!);
    }

    public void DisposeFused() { _fusedQkv?.Dispose(); _fusedQkv = null; }

    /// <summary>Training and full-sequence scoring: x (B,T,C) → (B,T,C), before the residual add.
    /// <paramref name="alibiBias"/> (H,T,T) when the model uses ALiBi (built once per forward, shared by the layers).
    /// <paramref name="layout"/>: packed rows — rotary angles at each token's position within its example, and keys
    /// only from the token's own example (not with ALiBi, which the model refuses, nor with a prefix).</summary>
    public Tensor Forward(LanguageModel model, Tensor x, int B, int T, Tensor? alibiBias, PackedLayout? layout = null)
    {
        if (layout is not null && _prefix is not null)
            throw new ArgumentException("attention prefix: not with packed rows (a packed layout); pad the examples instead.");
        var (rate, seed) = model.AttentionDropout(model.Config.AttentionDropout);   // attn_pdrop / attention_dropout
        int H = _heads, Hkv = _kvHeads;
        ReadOnlySpan<int> starts = layout is null ? default : layout.SegmentStarts;   // (B·T) or none
        Tensor y;                                                                   // (B,T,H·D)
        if (_qkv is not null)
        {
            var h = _qkv.Forward(x);                                                // (B,T,3·H·D)
            if (_prefix is not null)
            {
                if (_rope is not null) h = Ops.RopeTokenMajor(h, _rope, rotatedHeads: 2 * H);
                var (q, k, v) = SplitColumns(h);
                y = HeadsAttention(q, k, v, B, T, rate, seed);
            }
            else if (alibiBias is null)
            {
                // The kernel reads q, k, v in place from h (rotated first under RoPE) and writes (B,T,C): no head split
                // or merge to copy.
                if (_rope is not null) h = Rotate(h, layout, 2 * H);               // q and k turn, v does not
                if (Capture(model, layout) is { } captured) { var (q, k, _) = SplitColumns(h); captured.Add(new AttentionCapture(q, k, H, Hkv, _headDim)); }
                y = Ops.AttentionPacked(h, H, H, causal: true, dropout: rate, dropoutSeed: seed, segmentStarts: starts);
            }
            else
            {
                if (Capture(model, layout) is not null) throw new NotSupportedException("attention-map matching: not with ALiBi positions (the maps would miss the bias)");
                y = SplitHeadsAttention(h, B, T, alibiBias, rate, seed);
            }
        }
        else
        {
            Tensor qp, kp, vp;
            // Stacked q/k/v for inference; training (QLoRA) runs each layer's own quantized rows (as GatedMlp does).
            if (_fusedQkv is { } fused && !Tensors.Autograd.Tape.IsRecording) (qp, kp, vp) = Adapt(x, SplitColumns(Ops.QuantLinear(x, fused)));
            else { qp = _q!.Forward(x); kp = _k!.Forward(x); vp = _v!.Forward(x); }
            if (_prefix is not null) y = HeadsAttention(Ops.RopeTokenMajor(qp, _rope!), Ops.RopeTokenMajor(kp, _rope!), vp, B, T, rate, seed, _scale);
            else
            {
                var (q, k) = (Rotate(qp, layout, H), Rotate(kp, layout, Hkv));   // (B,T,H·D), (B,T,Hkv·D)
                Capture(model, layout)?.Add(new AttentionCapture(q, k, H, Hkv, _headDim));
                y = Ops.AttentionTokenMajor(q, k, vp, H, Hkv, causal: true, window: _window, dropout: rate, dropoutSeed: seed, segmentStarts: starts,
                    scale: _scale, softCap: _softCap);
            }
        }
        return _proj.Forward(y);
    }

    // Attention-map distillation's hook: the model's capture list when it asks for one. Packed rows would need the maps
    // cut per example, which the matching does not do, so they are refused rather than matched wrongly. (The prefix
    // path is not captured: a prefix is trained with a frozen model, never distilled.)
    static List<AttentionCapture>? Capture(LanguageModel model, PackedLayout? layout)
    {
        if (model is not CausalLM { CapturedAttention: { } list }) return null;
        if (layout is not null) throw new NotSupportedException("attention-map matching: not with packed rows (a packed layout)");
        return list;
    }

    // Rotary positions on token-major heads (B,T,n·D), the first rotatedHeads of each token: at t, or at the token's
    // position within its packed example.
    Tensor Rotate(Tensor x, PackedLayout? layout, int rotatedHeads) => layout is null
        ? Ops.RopeTokenMajor(x, _rope!, rotatedHeads: rotatedHeads)
        : Ops.RopeTokenMajor(x, _rope!, layout.Positions, rotatedHeads);

    // With a prefix: q (B,T,H·D), k, v (B,T,Hkv·D) split to heads, the prefix rows put before every sequence's keys, and
    // the general kernel (causal with the offset P: query t sees the whole prefix and keys 0..t) → (B,T,H·D).
    Tensor HeadsAttention(Tensor q, Tensor k, Tensor v, int B, int T, float rate, ulong seed, float? scale = null)
    {
        int H = _heads, Hkv = _kvHeads, D = _headDim;
        var qh = Ops.Transpose(Ops.Reshape(q, B, T, H, D), 1, 2);                  // (B,H,T,D)
        var kh = Ops.Transpose(Ops.Reshape(k, B, T, Hkv, D), 1, 2);                // (B,Hkv,T,D)
        var vh = Ops.Transpose(Ops.Reshape(v, B, T, Hkv, D), 1, 2);
        if (_prefix is { } prefix)
        {
            kh = Ops.Concat([Repeat(prefix.Keys, B), kh], 2);                      // (B,Hkv,P+T,D)
            vh = Ops.Concat([Repeat(prefix.Values, B), vh], 2);
        }
        var y = Ops.Attention(qh, kh, vh, causal: true, scale: scale, dropout: rate, dropoutSeed: seed);   // (B,H,T,D)
        return Ops.Reshape(Ops.Contiguous(Ops.Transpose(y, 1, 2)), B, T, H * D);
    }

    // (Hkv,P,D) → (B,Hkv,P,D): the same rows for every sequence; the gradients of the B copies add up in the prefix.
    static Tensor Repeat(Tensor prefix, int B)
    {
        var one = Ops.Reshape(prefix, 1, prefix.Dim(0), prefix.Dim(1), prefix.Dim(2));
        if (B == 1) return one;
        var copies = new Tensor[B];
        Array.Fill(copies, one);
        return Ops.Concat(copies, 0);
    }

    // ALiBi needs an additive bias, which only the general kernel takes: heads split to (B,H,T,D) and merged back.
    Tensor SplitHeadsAttention(Tensor h, int B, int T, Tensor bias, float rate, ulong seed)
    {
        int H = _heads, D = _headDim, C = H * D;
        // One copy puts q, k and v each in (B,H,T,D) row-major order: (B,T,3,H,D) → (3,B,H,T,D); the three slices along
        // the first axis are then contiguous views the attention reads in place.
        var heads = Ops.Contiguous(Ops.Permute(Ops.Reshape(h, B, T, 3, H, D), 2, 0, 3, 1, 4));
        Tensor q = Ops.Reshape(Ops.Narrow(heads, 0, 0, 1), B, H, T, D), k = Ops.Reshape(Ops.Narrow(heads, 0, 1, 1), B, H, T, D),
            v = Ops.Reshape(Ops.Narrow(heads, 0, 2, 1), B, H, T, D);
        var y = Ops.Attention(q, k, v, causal: true, bias: bias, dropout: rate, dropoutSeed: seed);   // (B,H,T,D)
        return Ops.Reshape(Ops.Contiguous(Ops.Transpose(y, 1, 2)), B, T, C);
    }

    /// <summary>The cached path: x (N,C) holds the step's rows (see <see cref="IKvCache"/>) → (N,C). Keys and values
    /// are stored in the cache; no state stays on the layer.</summary>
    public Tensor Forward(Tensor x, IKvCache cache, int layer)
    {
        int H = _heads, Hkv = _kvHeads;
        Tensor q, k, v;                                                             // (N,H·D), (N,Hkv·D) ×2, views
        if (_qkv is not null)
        {
            var h = _qkv.Forward(x);                                                // (N,3·H·D)
            if (_rope is not null) h = Ops.RopeAtPositions(h, _rope, cache.Positions, rotatedHeads: 2 * H);
            (q, k, v) = SplitColumns(h);
        }
        else if (_fusedQkv is { } fused && !HasAdapter)
            (q, k, v) = SplitColumns(Ops.RopeAtPositions(Ops.QuantLinear(x, fused), _rope!, cache.Positions, rotatedHeads: H + Hkv));
        else
        {
            // Separate projections, or fused ones whose slices an adapter changes before they are rotated.
            if (_fusedQkv is { } stacked) (q, k, v) = Adapt(x, SplitColumns(Ops.QuantLinear(x, stacked)));
            else { q = _q!.Forward(x); k = _k!.Forward(x); v = _v!.Forward(x); }
            q = Ops.RopeAtPositions(q, _rope!, cache.Positions, H);
            k = Ops.RopeAtPositions(k, _rope!, cache.Positions, Hkv);
        }
        var y = cache.Attend(layer, q, k, v, H, _alibi, _scale, _prefix?.Keys, _prefix?.Values, _window, _softCap);   // (N,H·D)
        return _proj.Forward(y);                                                    // (N,C)
    }

    bool HasAdapter => _q?.Adapter is not null || _k?.Adapter is not null || _v?.Adapter is not null;

    // The slices of a stacked q/k/v product through each projection's adapter slot (unchanged when none is attached).
    (Tensor, Tensor, Tensor) Adapt(Tensor x, (Tensor Q, Tensor K, Tensor V) p) => (_q!.Adapt(x, p.Q), _k!.Adapt(x, p.K), _v!.Adapt(x, p.V));

    // (…, (H+2·Hkv)·D) → q (…, H·D), k and v (…, Hkv·D): views of the last axis.
    (Tensor, Tensor, Tensor) SplitColumns(Tensor all)
    {
        int axis = all.Rank - 1, qWidth = _heads * _headDim, kvWidth = _kvHeads * _headDim;
        return (Ops.Narrow(all, axis, 0, qWidth), Ops.Narrow(all, axis, qWidth, kvWidth), Ops.Narrow(all, axis, qWidth + kvWidth, kvWidth));
    }
}

/// <summary>One layer's attention inputs as the training forward computed them, for attention-map distillation:
/// <paramref name="Q"/> (B,T,H·D) and <paramref name="K"/> (B,T,Hkv·D) token-major, after rotary positions (views of the
/// forward's own tensors, so a loss on them reaches the q/k projections); query head h reads kv head h / (H/Hkv).</summary>
public readonly record struct AttentionCapture(Tensor Q, Tensor K, int Heads, int KvHeads, int HeadDim);
