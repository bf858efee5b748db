using Lathe.Data;
using Lathe.Formats;
using Lathe.Inference;

namespace Lathe.Alignment;

/// <summary>One sampled response to one prompt, as a trainer replays it: the prompt's ids, the tokens the policy drew
/// and — when it ended by itself — the stop token it drew, with the response tokens marked trainable.</summary>
public sealed record Rollout(int Prompt, int Sample, SftExample Sequence, string Text, bool Ended)
{
    /// <summary>Tokens of the response (the stop token included when it ended).</summary>
    public int ResponseTokens => Sequence.TrainableCount;
}

/// <summary>Samples responses to chat prompts through the batched inference engine (every prompt's samples decode
/// together, sharing the prompt's KV blocks): the rollouts of PPO and the candidates of rejection sampling and
/// AI feedback. The policy's weights may change between calls (a trainer updates them in place); each call starts a
/// fresh engine, so nothing computed from older weights — KV blocks, the prefix cache — is reused.</summary>
public sealed class RolloutGenerator
{
    readonly LoadedModel _policy;
    readonly ChatTemplate _chat;
    readonly int _parallel;
    readonly HashSet<int> _stops;

    /// <param name="maxNewTokens">Longest response; one that reaches it without a stop token has not ended.</param>
    public RolloutGenerator(LoadedModel policy, ChatTemplate chat, int maxNewTokens, int parallel = 16)
    {
        if (maxNewTokens < 1) throw new ArgumentException($"--max-new-tokens: {maxNewTokens} must be at least 1");
        _policy = policy; _chat = chat; MaxNewTokens = maxNewTokens; _parallel = Math.Max(1, parallel);
        _stops = new HashSet<int>(policy.StopIds);
        foreach (string end in chat.EndOfTurn)
            if (policy.SpecialId(end) is int id) _stops.Add(id);
        if (policy.SpecialId(chat.TurnEnd) is int turnEnd) _stops.Add(turnEnd);
    }

    public int MaxNewTokens { get; }

    /// <summary>The prompt's ids as inference encodes them: the template's rendering with the assistant's turn opened.</summary>
    public int[] EncodePrompt(IReadOnlyList<ChatMessage> prompt) => _policy.Encode(_chat.Render(prompt));

    /// <summary><paramref name="samples"/> responses to every prompt. Prompt p's sampler is seeded from
    /// (<paramref name="sampling"/>.Seed, p), so the same seed gives the same responses. A prompt that leaves no room
    /// for a response in the context is a one-line error naming it.</summary>
    /// <param name="indices">Where <paramref name="prompts"/> sit in a larger set (a rank's share of it): prompt p is
    /// then seeded and named by <c>indices[p]</c>, so a share draws what one process drawing the whole set would.
    /// Rollouts keep the position in <paramref name="prompts"/> as <see cref="Rollout.Prompt"/>.</param>
    public List<Rollout> Generate(IReadOnlyList<IReadOnlyList<ChatMessage>> prompts, int samples, SamplingOptions sampling,
        IReadOnlyList<int>? indices = null)
    {
        if (samples < 1) throw new ArgumentException($"samples: {samples} must be at least 1");
        if (indices is not null && indices.Count != prompts.Count) throw new ArgumentException($"samples: {indices.Count} indices for {prompts.Count} prompts");
        int context = _policy.Model.Config.MaxPositions;
        var encoded = new int[prompts.Count][];
        for (int p = 0; p < prompts.Count; p++)
        {
            encoded[p] = EncodePrompt(prompts[p]);
            if (encoded[p].Length + MaxNewTokens > context)
                throw new ArgumentException($"prompt {indices?[p] ?? p}: {encoded[p].Length} tokens + {MaxNewTokens} to generate exceed the context of {context}");
        }
        var results = new GenerationResult[prompts.Count][];
        using (var engine = new InferenceEngine(_policy, new EngineOptions
        {
            Parallel = _parallel, QueueCapacity = Math.Max(256, prompts.Count + 1), ContextLength = context, PrefixCaching = false,
        }))
        {
            var runs = new Task<GenerationResult[]>[prompts.Count];
            for (int p = 0; p < prompts.Count; p++)
                runs[p] = engine.Submit(new GenerationRequest
                {
                    Prompt = encoded[p], MaxTokens = MaxNewTokens, Choices = samples, StopTokens = _stops,
                    Sampling = sampling with { Seed = Lathe.Data.Hash64.Mix(sampling.Seed ^ (ulong)(indices?[p] ?? p)) },
                }).CollectAsync();
            var all = Task.WhenAll(runs).GetAwaiter().GetResult();
            for (int p = 0; p < all.Length; p++) results[p] = all[p];
        }
        var rollouts = new List<Rollout>(prompts.Count * samples);
        for (int p = 0; p < prompts.Count; p++)
            for (int s = 0; s < samples; s++)
            {
                var r = results[p][s];
                bool ended = r.Finish == FinishReason.Stop && r.StopToken is not null;
                int n = encoded[p].Length + r.Tokens.Count + (ended ? 1 : 0);
                var ids = new int[n];
                var trainable = new bool[n];
                encoded[p].CopyTo(ids, 0);
                r.Tokens.CopyTo(ids, encoded[p].Length);
                if (ended) ids[n - 1] = r.StopToken!.Value;
                trainable.AsSpan(encoded[p].Length).Fill(true);
                rollouts.Add(new Rollout(p, s, new SftExample(ids, trainable), r.Text.ToString(), ended));
            }
        return rollouts;
    }
}

/// <summary>One number per rollout computed B rollouts at a time without gradients — a reward model's score, a
/// policy's response log-probability: each batch's sequences fill <see cref="ResponseRows"/> (the last batch padded
/// with empty rows) and <c>perRow</c> maps the rows to a (B) tensor whose first entries are kept. The rows and the tape
/// are kept from call to call (a PPO phase scores its rollouts every phase).</summary>
public sealed class RolloutBatches(int batch, int padId) : IDisposable
{
    readonly int _batch = Math.Max(1, batch);
    readonly Lathe.Tensors.Autograd.Tape _tape = new();
    readonly Dictionary<int, ResponseRows> _rows = [];   // by row length, kept from call to call

    public void Evaluate(IReadOnlyList<Rollout> rollouts, Func<ResponseRows, Lathe.Tensors.Tensor> perRow, Span<float> output)
    {
        if (output.Length < rollouts.Count) throw new ArgumentException($"rollout batches: {output.Length} outputs for {rollouts.Count} rollouts.");
        if (rollouts.Count == 0) return;
        for (int start = 0; start < rollouts.Count; start += _batch)
        {
            // Each batch is as long as its own longest row, so a batch's numbers depend on its rows alone (ranks that
            // share the scoring by whole batches reproduce one process's) and short batches carry no padding.
            int n = Math.Min(_batch, rollouts.Count - start), T = 2;
            for (int b = 0; b < n; b++) T = Math.Max(T, rollouts[start + b].Sequence.Ids.Length);
            if (!_rows.TryGetValue(T, out var rows)) _rows[T] = rows = new ResponseRows(_batch, T);
            for (int b = 0; b < _batch; b++) rows.Set(b, b < n ? rollouts[start + b].Sequence : null, padId);
            rows.Complete();
            _tape.Reset();
            using (_tape.Activate())
            using (Lathe.Tensors.Autograd.Tape.NoGrad())
                perRow(rows).AsSpan()[..n].CopyTo(output[start..]);
        }
    }

    /// <summary>Rollouts per forward.</summary>
    public int Batch => _batch;

    public void Dispose() => _tape.Dispose();
}
