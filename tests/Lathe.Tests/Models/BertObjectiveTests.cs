using Lathe.Training.Objectives;
using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Tests.Models;

/// <summary>The MLM + NSP example builder: layout and segments, IsNext/NotNext spans, the 15% / 80-10-10 masking
/// statistics over many draws, specials never predicted, and determinism by seed.</summary>
public class BertObjectiveTests
{
    const int V = 1004;   // 1000 corpus ids + [CLS] 1000, [SEP] 1001, [MASK] 1002, [PAD] 1003
    static readonly ModelConfig Config = new()
    {
        ModelType = "bert", VocabSize = V, MaxPositions = 64, Embd = 16, Layers = 1, Heads = 2, KvHeads = 2, Intermediate = 32,
    };

    // Distinct tokens per row and position (b·T + t mod 1000 with T ≤ 64, B ≤ 8), so spans can be located exactly.
    static (int[] Inputs, int[] Targets) Rows(int B, int T, int shift)
    {
        var stream = new int[B * T + 1];
        for (int i = 0; i < stream.Length; i++) stream[i] = (i + shift) % 1000;
        var inputs = new int[B * T];
        var targets = new int[B * T];
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) { inputs[b * T + t] = stream[b * T + t]; targets[b * T + t] = stream[b * T + t + 1]; }
        return (inputs, targets);
    }

    [Fact]
    public void Layout_segments_and_next_sentence_spans_are_right()
    {
        const int B = 4, T = 32;
        var objective = new BertPretrainingBatch(Config);
        int next = 0, notNext = 0;
        for (ulong seed = 0; seed < 50; seed++)
        {
            var (inputs, targets) = Rows(B, T, (int)seed * 7);
            objective.Build(inputs, targets, B, T, seed);
            Assert.Equal(T, objective.Length);
            for (int b = 0; b < B; b++)
            {
                var ids = objective.Ids.Slice(b * T, T).ToArray();
                var types = objective.TokenTypes.Slice(b * T, T).ToArray();
                var labels = objective.MlmLabels.Slice(b * T, T).ToArray();
                // Undo the masking to see the example as built.
                var plain = new int[T];
                for (int t = 0; t < T; t++) plain[t] = labels[t] == BertModel.IgnoreLabel ? ids[t] : labels[t];
                Assert.Equal(Config.ClsId, plain[0]);
                Assert.Equal(Config.SepId, plain[T - 1]);
                int sep = Array.IndexOf(plain, Config.SepId);
                Assert.InRange(sep, 2, T - 3);                                   // |A| ≥ 1 and |B| ≥ 1
                Assert.Equal(2, plain.Count(x => x == Config.SepId));
                Assert.Equal(1, ids.Count(x => x == Config.ClsId));
                for (int t = 0; t < T; t++) Assert.Equal(t <= sep ? 0 : 1, types[t]);
                // A is the row's start; B continues it (IsNext) or is a span of another row (NotNext).
                int[] row = [.. inputs.AsSpan(b * T, T), targets[b * T + T - 1]];
                Assert.Equal(row[..(sep - 1)], plain[1..sep]);
                int[] second = plain[(sep + 1)..(T - 1)];
                if (objective.NspLabels[b] == 0)
                {
                    next++;
                    Assert.Equal(row[(sep - 1)..(T - 3)], second);
                }
                else
                {
                    notNext++;
                    int source = -1;
                    for (int o = 0; o < B && source < 0; o++)
                    {
                        if (o == b) continue;
                        int[] other = [.. inputs.AsSpan(o * T, T), targets[o * T + T - 1]];
                        int start = Array.IndexOf(other, second[0]);
                        if (start >= 0 && start + second.Length <= other.Length && other.AsSpan(start, second.Length).SequenceEqual(second)) source = o;
                    }
                    Assert.True(source >= 0, $"seed {seed} row {b}: NotNext segment B is not a span of another row");
                }
            }
        }
        Assert.True(next > 0 && notNext > 0);
    }

    [Fact]
    public void Masking_follows_15_percent_and_80_10_10_and_never_touches_specials()
    {
        // 400 micro-batches × 8 rows × 9 predictions = 28,800 predicted positions. The bounds below are ≥ 5 standard
        // deviations of the binomial share (√(p(1−p)/n): 0.0024 for 80%, 0.0018 for 10%) and of NSP's ½ over 3,200 rows.
        const int B = 8, T = 64, Draws = 400;
        var objective = new BertPretrainingBatch(Config);
        long predicted = 0, masked = 0, random = 0, kept = 0, content = 0, notNext = 0;
        var (inputs, targets) = Rows(B, T, 3);
        for (int d = 0; d < Draws; d++)
        {
            objective.Build(inputs, targets, B, T, (ulong)d * 7919 + 1);
            for (int b = 0; b < B; b++)
            {
                int rowPredicted = 0;
                for (int t = 0; t < T; t++)
                {
                    int i = b * T + t, label = objective.MlmLabels[i], id = objective.Ids[i];
                    bool special = t == 0 || t == T - 1 || (label == BertModel.IgnoreLabel && id == Config.SepId);
                    if (!special) content++;
                    if (label == BertModel.IgnoreLabel) { Assert.False(id == Config.MaskId); continue; }
                    Assert.False(special, "a special position was chosen for prediction");
                    Assert.False(Config.IsBertSpecial(label), "a special token is an MLM label");
                    Assert.False(Config.IsBertSpecial(id) && id != Config.MaskId, "a random replacement is a special token");
                    rowPredicted++;
                    if (id == Config.MaskId) masked++;
                    else if (id == label) kept++;
                    else random++;
                }
                Assert.Equal((int)(0.15 * (T - 3) + 0.5), rowPredicted);
                predicted += rowPredicted;
                notNext += objective.NspLabels[b];
            }
        }
        Assert.Equal((long)Draws * B * (T - 3), content);
        Assert.InRange((double)predicted / content, 0.15 - 0.5 / (T - 3), 0.15 + 0.5 / (T - 3));
        // A random replacement equal to the original (1 in 1000) counts as kept: a 0.0001 shift, far inside the bounds.
        Assert.InRange((double)masked / predicted, 0.8 - 0.012, 0.8 + 0.012);
        Assert.InRange((double)random / predicted, 0.1 - 0.009, 0.1 + 0.009);
        Assert.InRange((double)kept / predicted, 0.1 - 0.009, 0.1 + 0.009);
        Assert.InRange((double)notNext / (Draws * B), 0.5 - 0.045, 0.5 + 0.045);
    }

    [Fact]
    public void Same_seed_same_examples_other_seed_other_examples()
    {
        const int B = 3, T = 20;
        var (inputs, targets) = Rows(B, T, 11);
        var a = new BertPretrainingBatch(Config);
        var b = new BertPretrainingBatch(Config);
        a.Build(inputs, targets, B, T, 42);
        b.Build(inputs, targets, B, T, 41);
        b.Build(inputs, targets, B, T, 42);   // buffers reused: nothing of the previous call may leak
        Assert.Equal(a.Ids.ToArray(), b.Ids.ToArray());
        Assert.Equal(a.TokenTypes.ToArray(), b.TokenTypes.ToArray());
        Assert.Equal(a.MlmLabels.ToArray(), b.MlmLabels.ToArray());
        Assert.Equal(a.NspLabels.ToArray(), b.NspLabels.ToArray());
        var ids42 = a.Ids.ToArray();
        a.Build(inputs, targets, B, T, 43);
        Assert.NotEqual(ids42, a.Ids.ToArray());
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(1, 4)]
    [InlineData(2, 3)]
    [InlineData(1, 5)]
    public void Short_rows_and_single_row_batches_still_make_valid_examples(int B, int T)
    {
        var (inputs, targets) = Rows(B, T, 0);
        var objective = new BertPretrainingBatch(Config);
        for (ulong seed = 0; seed < 40; seed++)
        {
            objective.Build(inputs, targets, B, T, seed);
            int S = Math.Max(T, 5);
            Assert.Equal(S, objective.Length);
            for (int b = 0; b < B; b++)
            {
                Assert.Equal(Config.ClsId, objective.Ids[b * S]);
                Assert.Equal(Config.SepId, objective.Ids[b * S + S - 1]);
                int labelled = 0;
                for (int t = 0; t < S; t++) if (objective.MlmLabels[b * S + t] != BertModel.IgnoreLabel) labelled++;
                Assert.Equal(1, labelled);
            }
            if (B == 1 && objective.NspLabels[0] == 1)
            {
                // NotNext from the same row must not be the true continuation.
                int[] row = [.. inputs, targets[T - 1]];
                var ids = objective.Ids.ToArray();
                var labels = objective.MlmLabels.ToArray();
                for (int t = 0; t < S; t++) if (labels[t] != BertModel.IgnoreLabel) ids[t] = labels[t];
                int sep = Array.IndexOf(ids, Config.SepId);
                Assert.NotEqual(row[(sep - 1)..(S - 3)], ids[(sep + 1)..(S - 1)]);
            }
        }
    }

    [Fact]
    public void Corpus_token_equal_to_a_special_id_is_a_one_line_error()
    {
        var (inputs, targets) = Rows(2, 8, 0);
        inputs[5] = Config.MaskId;
        var e = Assert.Throws<InvalidDataException>(() => new BertPretrainingBatch(Config).Build(inputs, targets, 2, 8, 1));
        Assert.StartsWith($"bert: corpus token {Config.MaskId} is a special id", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Random_replacements_cover_the_non_special_vocabulary()
    {
        // Uniform over the 1000 non-special ids: with ~2,900 random replacements each id is expected ~2.9 times;
        // the chance that a uniform draw leaves more than a quarter of ids unseen is negligible (expected unseen ≈ 5.5%).
        const int B = 8, T = 64;
        var objective = new BertPretrainingBatch(Config);
        var (inputs, targets) = Rows(B, T, 3);
        var seen = new bool[V];
        for (int d = 0; d < 400; d++)
        {
            objective.Build(inputs, targets, B, T, (ulong)d + 1000);
            for (int i = 0; i < B * T; i++)
            {
                int label = objective.MlmLabels[i], id = objective.Ids[i];
                if (label != BertModel.IgnoreLabel && id != label && id != Config.MaskId) seen[id] = true;
            }
        }
        Assert.True(seen.Count(s => s) > 750);
        for (int s = 1000; s < V; s++) Assert.False(seen[s]);
    }
}
