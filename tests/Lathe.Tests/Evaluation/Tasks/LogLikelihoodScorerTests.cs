using Lathe.Evaluation.Tasks;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Tests.Evaluation.Tasks;

/// <summary>The scorer's batched, context-sharing, KV-cached log-likelihoods against an independent oracle: the model's
/// full forward pass (no cache) over context + continuation, log-softmax taken row by row in double precision.</summary>
public class LogLikelihoodScorerTests
{
    internal static CausalLM Model(string type, int window = 48) => CausalLM.Create(type == "llama"
        ? new ModelConfig { ModelType = "llama", VocabSize = 97, MaxPositions = window, Embd = 32, Layers = 2, Heads = 4, KvHeads = 2, Intermediate = 64 }
        : new ModelConfig { ModelType = "gpt2", VocabSize = 97, MaxPositions = window, Embd = 32, Layers = 2, Heads = 2, KvHeads = 2, Intermediate = 64 }, 7);

    // Σ log p(continuation | context) and greedy-ness from one uncached forward pass.
    static (double Sum, bool Greedy) Oracle(CausalLM model, int[] context, int[] continuation)
    {
        int[] all = [.. context, .. continuation[..^1]];   // the last token is only predicted
        using var tape = new Tape();
        using var _ = tape.Activate();
        using var __ = Tape.NoGrad();
        var logits = Ops.Contiguous(model.Logits(all, 1, all.Length)).AsSpan();
        int V = model.Config.VocabSize;
        double sum = 0;
        bool greedy = true;
        for (int t = 0; t < continuation.Length; t++)
        {
            var row = logits.Slice((context.Length - 1 + t) * V, V);
            double max = double.NegativeInfinity;
            int argmax = 0;
            for (int v = 0; v < V; v++) if (row[v] > max) { max = row[v]; argmax = v; }
            double z = 0;
            for (int v = 0; v < V; v++) z += Math.Exp(row[v] - max);
            sum += row[continuation[t]] - max - Math.Log(z);
            greedy &= argmax == continuation[t];
        }
        return (sum, greedy);
    }

    static int[] Ids(Random rng, int n) => Enumerable.Range(0, n).Select(_ => rng.Next(97)).ToArray();

    [Theory]
    [InlineData("gpt2", 512)]
    [InlineData("gpt2", 20)]   // passes of a few rows: contexts and forks split over many forward passes
    [InlineData("llama", 512)]
    [InlineData("llama", 7)]
    public void Shared_contexts_duplicates_and_truncation_match_a_full_forward_pass(string type, int batchTokens)
    {
        var model = Model(type);
        var rng = new Random(3);
        var requests = new List<LogLikelihoodRequest>();
        for (int q = 0; q < 5; q++)
        {
            int[] context = Ids(rng, 1 + rng.Next(20));
            for (int c = 0; c < 4; c++) requests.Add(new(context, Ids(rng, 1 + rng.Next(5))));   // four choices share it
        }
        requests.Add(requests[2]);                                               // an exact duplicate
        requests.Add(new(Ids(rng, 60), Ids(rng, 3)));                             // longer than the window: truncated
        requests.Add(new(Ids(rng, 1), Ids(rng, 40)));
        // The greedy continuation of a context, so is_greedy is true for once.
        var greedyContext = Ids(rng, 6);
        requests.Add(new(greedyContext, GreedyTokens(model, greedyContext, 3)));

        using var scorer = new LogLikelihoodScorer(model, batchTokens);
        var scores = scorer.Score(requests);
        for (int i = 0; i < requests.Count; i++)
        {
            var r = requests[i];
            int keep = Math.Min(r.Context.Length, model.Config.MaxPositions + 1 - r.Continuation.Length);
            var (sum, greedy) = Oracle(model, r.Context[^keep..], r.Continuation);
            Assert.True(Math.Abs(sum - scores[i].Value) <= 1e-4 * Math.Max(1, Math.Abs(sum)), $"request {i}: {scores[i].Value} vs oracle {sum}");
            Assert.Equal(greedy, scores[i].IsGreedy);
        }
        Assert.True(scores[^1].IsGreedy);
        Assert.Equal(scores[2], scores[20]);
    }

    static int[] GreedyTokens(CausalLM model, int[] context, int n)
    {
        var ids = new List<int>(context);
        for (int i = 0; i < n; i++)
        {
            using var tape = new Tape();
            using var _ = tape.Activate();
            using var __ = Tape.NoGrad();
            var logits = Ops.Contiguous(model.Logits(ids.ToArray(), 1, ids.Count)).AsSpan();
            var row = logits.Slice((ids.Count - 1) * model.Config.VocabSize, model.Config.VocabSize);
            int best = 0;
            for (int v = 1; v < row.Length; v++) if (row[v] > row[best]) best = v;
            ids.Add(best);
        }
        return ids.Skip(context.Length).ToArray();
    }

    [Theory]
    [InlineData("gpt2", 512)]
    [InlineData("llama", 16)]   // windows longer than a pass run in chunks on one sequence
    public void Rolling_scores_predict_every_token_once_in_disjoint_windows(string type, int batchTokens)
    {
        var model = Model(type, window: 32);
        var rng = new Random(5);
        var texts = new List<int[]> { Ids(rng, 2), Ids(rng, 33), Ids(rng, 100), Ids(rng, 10) };
        using var scorer = new LogLikelihoodScorer(model, batchTokens);
        var scores = scorer.ScoreRolling(texts);
        for (int i = 0; i < texts.Count; i++)
        {
            // Window k takes inputs kW … and predicts the token after each: the oracle scores each window alone.
            int W = 32, n = texts[i].Length;
            double sum = 0;
            for (int start = 0; start < n - 1; start += W)
            {
                int len = Math.Min(W, n - 1 - start);
                sum += Oracle(model, texts[i][start..(start + 1)], texts[i][(start + 1)..(start + 1 + len)]).Sum;
            }
            Assert.Equal(n - 1, scores[i].Tokens);
            Assert.True(Math.Abs(sum - scores[i].Sum) <= 1e-4 * Math.Max(1, Math.Abs(sum)), $"text {i}: {scores[i].Sum} vs oracle {sum}");
        }
    }

    [Fact]
    public void Empty_contexts_and_oversized_continuations_are_refused()
    {
        using var scorer = new LogLikelihoodScorer(Model("gpt2"));
        Assert.Contains("context is empty", Assert.Throws<ArgumentException>(() => scorer.Score([new([], [1])])).Message);
        Assert.Contains("continuation has 49", Assert.Throws<ArgumentException>(() => scorer.Score([new([1], new int[49])])).Message);
    }
}
