using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Inference;

/// <summary>Why generation stopped.</summary>
public enum StopReason { MaxTokens, StopToken, Context }

/// <summary>Decoding with a KV cache: the prompt is processed in one batched pass, then each new token costs one
/// single-position forward. Tokens are yielded as they are chosen, so callers can stream them.</summary>
public sealed class Generator : IDisposable
{
    readonly CausalLM _model;
    readonly KvCache _cache;
    readonly Tape _tape = new();

    public StopReason Reason { get; private set; }

    public Generator(CausalLM model)
    {
        _model = model;
        _cache = new KvCache(model.Config);
    }

    /// <summary>Continues <paramref name="prompt"/> by up to <paramref name="maxTokens"/> tokens, stopping early at a
    /// token in <paramref name="stopTokens"/> (not yielded) or at the end of the model's context.</summary>
    public IEnumerable<int> Generate(int[] prompt, int maxTokens, SamplingOptions options, IReadOnlySet<int>? stopTokens = null)
    {
        if (prompt.Length == 0) throw new ArgumentException("generate: the prompt is empty.");
        if (prompt.Length > _model.Config.MaxPositions)
            throw new ArgumentException($"generate: the prompt has {prompt.Length} tokens; the model's context is {_model.Config.MaxPositions}.");
        if (maxTokens < 0) throw new ArgumentException($"generate: max tokens {maxTokens} must be ≥ 0.");
        var sampler = new SamplerChain(options);
        var history = new List<int>(prompt);
        _cache.Reset();
        int V = _model.Config.VocabSize;
        var last = new float[V];
        Forward(prompt, last);
        Reason = StopReason.MaxTokens;
        for (int n = 0; n < maxTokens; n++)
        {
            int next = sampler.Sample(last, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(history));
            if (stopTokens is not null && stopTokens.Contains(next)) { Reason = StopReason.StopToken; yield break; }
            history.Add(next);
            yield return next;
            if (n + 1 == maxTokens) yield break;
            if (_cache.Length >= _cache.Capacity) { Reason = StopReason.Context; yield break; }
            Forward([next], last);
        }
    }

    // Runs the new tokens through the model and keeps the logits of the last one.
    unsafe void Forward(int[] tokens, float[] last)
    {
        _tape.Reset();
        using (_tape.Activate())
        using (Tape.NoGrad())
        {
            var logits = _model.LastLogits(tokens, 1, tokens.Length, _cache);   // (1, V)
            new ReadOnlySpan<float>(Ops.Contiguous(logits).Data, last.Length).CopyTo(last);
        }
    }

    public void Dispose()
    {
        _cache.Dispose();
        _tape.Dispose();
    }
}
