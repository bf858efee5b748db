using Lathe.Data;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Training;

namespace Lathe.Tests.Training;

/// <summary>Fine-tuning batches: packed and padded rows, targets and weights from the loss mask, seeded epochs that
/// resume from a position.</summary>
public class SftBatchSourceTests
{
    /// <summary>Examples of 2–<paramref name="maxLength"/> tokens with ids &lt; 64 and a mask whose first token is never
    /// trainable, and every example with at least one trainable token.</summary>
    internal static List<SftExample> Examples(int n, int maxLength, ulong seed)
    {
        var rng = new Philox(seed);
        var list = new List<SftExample>();
        for (int i = 0; i < n; i++)
        {
            int L = 2 + rng.NextInt(maxLength - 1);
            var ids = new int[L];
            var mask = new bool[L];
            int promptLength = 1 + rng.NextInt(L - 1);   // a prompt, then the trainable reply
            for (int j = 0; j < L; j++) { ids[j] = 1 + rng.NextInt(63); mask[j] = j >= promptLength; }
            list.Add(new SftExample(ids, mask));
        }
        return list;
    }

    static void CheckRowSegment(SftExample e, int[] inputs, int[] targets, float[] weights, int at)
    {
        for (int i = 0; i < e.Ids.Length - 1; i++)
        {
            Assert.Equal(e.Ids[i], inputs[at + i]);
            Assert.Equal(e.Trainable[i + 1] ? e.Ids[i + 1] : -100, targets[at + i]);
            Assert.Equal(e.Trainable[i + 1] ? 1f : 0f, weights[at + i]);
        }
    }

    [Fact]
    public void Padded_rows_hold_one_example_each_then_padding_of_weight_zero()
    {
        var examples = Examples(10, 9, 1);
        var source = new SftBatchSource(examples, SequenceMode.Padded, seed: 4, padId: 0, shuffle: false);
        int B = 3, T = 8;
        var (inputs, targets, weights) = (new int[B * T], new int[B * T], new float[B * T]);
        Assert.Null(source.Next(inputs, targets, weights, B, T));
        for (int b = 0; b < B; b++)
        {
            var e = examples[b];
            CheckRowSegment(e, inputs, targets, weights, b * T);
            for (int t = e.Ids.Length - 1; t < T; t++) Assert.Equal((0, -100, 0f), (inputs[b * T + t], targets[b * T + t], weights[b * T + t]));
        }
        Assert.Equal(3, source.Position);
    }

    [Fact]
    public void Packed_rows_put_whole_examples_back_to_back_with_positions_restarting()
    {
        var examples = Examples(40, 9, 2);
        var source = new SftBatchSource(examples, SequenceMode.Packed, seed: 4, padId: 0, shuffle: true, repeat: false);   // one epoch, shuffled
        int B = 4, T = 12, N = examples.Count;
        var (inputs, targets, weights) = (new int[B * T], new int[B * T], new float[B * T]);
        var order = source.EpochOrder(0);
        int next = 0;
        while (next < N)
        {
            var layout = source.Next(inputs, targets, weights, B, T)!;
            Assert.Equal((B, T), (layout.B, layout.T));
            for (int b = 0; b < B; b++)
            {
                int used = 0;
                // Greedy: the examples of this epoch, in order, as long as they fit the row.
                while (next < N && used + examples[order[next]].Ids.Length - 1 <= T)
                {
                    var e = examples[order[next]];
                    CheckRowSegment(e, inputs, targets, weights, b * T + used);
                    for (int i = 0; i < e.Ids.Length - 1; i++)
                    {
                        Assert.Equal(i, layout.Positions[b * T + used + i]);
                        Assert.Equal(used, layout.SegmentStarts[b * T + used + i]);
                    }
                    used += e.Ids.Length - 1;
                    next++;
                }
                Assert.True(used > 0 || next == N);
                for (int t = used; t < T; t++)
                {
                    Assert.Equal((0, -100, 0f), (inputs[b * T + t], targets[b * T + t], weights[b * T + t]));
                    Assert.Equal((t - used, used), (layout.Positions[b * T + t], layout.SegmentStarts[b * T + t]));
                }
            }
        }
        Assert.Equal(N, source.Position);
    }

    [Fact]
    public void Each_epoch_is_a_seeded_permutation_and_a_position_resumes_exactly()
    {
        var examples = Examples(23, 7, 3);
        var a = new SftBatchSource(examples, SequenceMode.Packed, seed: 9);
        var again = new SftBatchSource(examples, SequenceMode.Packed, seed: 9);
        var other = new SftBatchSource(examples, SequenceMode.Packed, seed: 10);
        for (int epoch = 0; epoch < 3; epoch++)
        {
            var order = a.EpochOrder(epoch);
            Assert.Equal(Enumerable.Range(0, 23), order.Order());
            Assert.Equal(order, again.EpochOrder(epoch));
        }
        Assert.NotEqual(a.EpochOrder(0), a.EpochOrder(1));
        Assert.NotEqual(a.EpochOrder(0), other.EpochOrder(0));

        int B = 2, T = 10;
        var straight = new List<(int[], int[], float[], int[])>();
        for (int step = 0; step < 12; step++) straight.Add(Batch(a, B, T));   // several epochs
        Assert.True(a.Position > 2 * 23);
        // A fresh source set to a saved position continues with the same batches.
        var fresh = new SftBatchSource(examples, SequenceMode.Packed, seed: 9);
        var replay = new SftBatchSource(examples, SequenceMode.Packed, seed: 9);
        for (int step = 0; step < 7; step++) Batch(replay, B, T);
        fresh.Position = replay.Position;
        for (int step = 7; step < 12; step++)
        {
            var (i, t, w, p) = Batch(fresh, B, T);
            Assert.Equal(straight[step].Item1, i);
            Assert.Equal(straight[step].Item2, t);
            Assert.Equal(straight[step].Item3, w);
            Assert.Equal(straight[step].Item4, p);
        }
    }

    static (int[], int[], float[], int[]) Batch(SftBatchSource s, int B, int T)
    {
        var (i, t, w) = (new int[B * T], new int[B * T], new float[B * T]);
        var layout = s.Next(i, t, w, B, T);
        return (i, t, w, [.. layout!.Positions]);
    }

    [Theory]
    [InlineData(SequenceMode.Packed)]
    [InlineData(SequenceMode.Padded)]
    public void A_single_pass_visits_every_example_once_then_pads(SequenceMode mode)
    {
        var examples = Examples(17, 9, 5);
        var source = new SftBatchSource(examples, mode, seed: 1, shuffle: false, repeat: false);
        int B = 3, T = 9, batches = source.BatchesPerPass(B, T);
        var (inputs, targets, weights) = (new int[B * T], new int[B * T], new float[B * T]);
        double weight = 0;
        for (int i = 0; i < batches; i++) { source.Next(inputs, targets, weights, B, T); weight += weights.Sum(); }
        Assert.Equal(17, source.Position);
        Assert.Equal(examples.Sum(e => e.Trainable.Skip(1).Count(x => x)), weight);
        source.Next(inputs, targets, weights, B, T);   // past the end: padding only
        Assert.All(weights, w => Assert.Equal(0f, w));
        Assert.All(targets, t => Assert.Equal(-100, t));
        // One batch fewer would have missed examples.
        source.Position = 0;
        for (int i = 0; i < batches - 1; i++) source.Next(inputs, targets, weights, B, T);
        Assert.True(source.Position < 17);
    }

    [Fact]
    public void An_example_longer_than_the_context_is_an_error_naming_its_size()
    {
        var source = new SftBatchSource([new SftExample(new int[12], new bool[12])], SequenceMode.Padded, seed: 1);
        var e = Assert.Throws<InvalidDataException>(() => source.Next(new int[8], new int[8], new float[8], 1, 8));
        Assert.Contains("12 tokens", e.Message);
    }
}
