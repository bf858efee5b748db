using Lathe.Tensors;

namespace Lathe.Models;

/// <summary>What a model's cached forward sees of a KV cache during one step: the N token rows of the step, each
/// belonging to some sequence at some position (prompt chunks and single decode tokens may mix, sequences at different
/// lengths), and per layer one operation that stores the rows' keys and values and attends over each row's sequence.
/// The cache itself (paged blocks, slots, scheduling) lives in Inference; models hold no per-request state.</summary>
public interface IKvCache
{
    /// <summary>Token rows in the step being run (N).</summary>
    int Rows { get; }

    /// <summary>Each row's position in its sequence (N values): what learned positions, RoPE and ALiBi read.</summary>
    ReadOnlySpan<int> Positions { get; }

    /// <summary>The index of each scheduled sequence's last row, in schedule order: the rows whose logits predict the
    /// next token.</summary>
    ReadOnlySpan<int> LastRows { get; }

    /// <summary>Stores the step's keys and values of <paramref name="layer"/> at the rows' positions and returns causal
    /// attention of every row over its sequence's keys so far (its own included). <paramref name="q"/> (N, H·D) and
    /// <paramref name="k"/>, <paramref name="v"/> (N, Hkv·D) may be column views of one fused projection.
    /// <paramref name="positionBias"/> (H, L), when given, adds positionBias[h, d] to the score of the key d positions
    /// before the query (ALiBi, T5's relative buckets). <paramref name="scale"/> defaults to 1/√D.
    /// <paramref name="prefixKeys"/>, <paramref name="prefixValues"/> (Hkv, P, D), when given, are seen by every row before
    /// its sequence's keys (prefix tuning) and are not stored. <paramref name="window"/> &gt; 0: each row sees only its
    /// sequence's last <paramref name="window"/> keys, its own included (sliding-window attention). <paramref name="softCap"/>
    /// &gt; 0: each scaled score x becomes softCap·tanh(x / softCap) (Gemma 2). Returns (N, H·D).</summary>
    Tensor Attend(int layer, Tensor q, Tensor k, Tensor v, int heads, Tensor? positionBias = null, float? scale = null,
        Tensor? prefixKeys = null, Tensor? prefixValues = null, int window = 0, float softCap = 0);

    /// <summary>Cross-attention of an encoder-decoder: every row attends, without a mask, over the encoder memory's keys
    /// and values of its sequence in <paramref name="layer"/>, stored once when the sequence started (nothing is
    /// appended). q (N, H·D) → (N, H·D).</summary>
    Tensor AttendMemory(int layer, Tensor q, int heads, float? scale = null);

    /// <summary>Called once after the last layer (and after reading <see cref="LastRows"/>): the step's rows become part
    /// of their sequences and the step's layout is cleared.</summary>
    void Commit();
}
