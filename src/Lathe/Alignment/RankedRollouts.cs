using System.Text;
using Lathe.Data;
using Lathe.Distributed;
using Lathe.Inference;

namespace Lathe.Alignment;

/// <summary>Sampling and scoring spread over the ranks of a job: rank r of K takes prompts r, r + K, r + 2K, … (dealt
/// round-robin so that long and short prompts mix), samples them with the sampler seeds their places in the whole set
/// give (<see cref="RolloutGenerator.Generate"/>'s indices) and scores its own rollouts; the rollouts and scores are then
/// gathered so that every rank holds all of them in the order one process would have made them. Whether a rollout's
/// tokens are the same bits as one process's depends only on its own rows (the engine decodes each sequence alike
/// whatever else it runs beside it); its score is, because scoring keeps one process's batches (the distributed CLI
/// tests compare winners and labels with one process's, byte for byte).</summary>
public static class RankedRollouts
{
    /// <summary>The indices of <paramref name="count"/> items that this rank takes: rank, rank + K, ….</summary>
    public static int[] Share(Communicator world, int count) => Share(world.Rank, world.Size, count);

    /// <summary>The indices of <paramref name="count"/> items that rank <paramref name="r"/> of <paramref name="k"/> takes.</summary>
    public static int[] Share(int r, int k, int count)
    {
        var mine = new int[count <= r ? 0 : (count - r + k - 1) / k];
        for (int i = 0; i < mine.Length; i++) mine[i] = r + i * k;
        return mine;
    }

    /// <summary><paramref name="samples"/> responses to every prompt, each scored by <paramref name="reward"/> (null:
    /// no scores), spread over the ranks: every rank returns all the rollouts, prompt by prompt and sample by sample
    /// with <see cref="Rollout.Prompt"/> the index in <paramref name="prompts"/>, and their scores in that order.</summary>
    /// <remarks>Sampling is split by prompt; scoring by the reward's batches (<see cref="IRewardFunction.BatchRows"/>) of
    /// the gathered rollouts, so each batch holds the rows one process would put in it — a batch's padding changes the
    /// rounding of its rows' scores, so a split by prompt would not reproduce them.</remarks>
    public static (List<Rollout> Rollouts, float[] Scores) Sample(Communicator world, RolloutGenerator generator, IRewardFunction? reward,
        IReadOnlyList<AlignmentPrompt> prompts, int samples, SamplingOptions sampling)
    {
        var kinds = prompts.Select(p => p.Kind).ToList();
        if (world.Size == 1)
        {
            var all = generator.Generate(prompts.Select(p => p.Prompt).ToList(), samples, sampling);
            var scores = new float[all.Count];
            reward?.Score(all, kinds, scores);
            return (all, scores);
        }
        var mine = Share(world, prompts.Count);
        var rollouts = mine.Length == 0 ? [] : generator.Generate(mine.Select(i => prompts[i].Prompt).ToList(), samples, sampling, mine);
        var gathered = new List<Rollout>(prompts.Count * samples);
        var parts = world.AllGatherBytes(Encode(rollouts));
        for (int r = 0; r < parts.Length; r++) gathered.AddRange(Decode(parts[r], Share(r, world.Size, prompts.Count), $"rank {r}'s rollouts"));
        gathered.Sort((a, b) => a.Prompt != b.Prompt ? a.Prompt.CompareTo(b.Prompt) : a.Sample.CompareTo(b.Sample));
        return (gathered, reward is null ? new float[gathered.Count] : ScoreInBatches(world, reward, gathered, kinds));
    }

    // Rank r scores the reward's batches r, r + K, … of the rollouts; the scores are gathered in rollout order.
    static float[] ScoreInBatches(Communicator world, IRewardFunction reward, List<Rollout> rollouts, IReadOnlyList<string?> kinds)
    {
        int rows = Math.Max(1, reward.BatchRows), batches = (rollouts.Count + rows - 1) / rows;
        var scores = new float[rollouts.Count];
        var mine = Share(world, batches);
        var own = new List<float>(mine.Length * rows);
        foreach (int b in mine)
        {
            int from = b * rows, n = Math.Min(rows, rollouts.Count - from);
            reward.Score(rollouts.GetRange(from, n), kinds, scores.AsSpan(from, n));
            own.AddRange(scores.AsSpan(from, n));
        }
        var parts = world.AllGatherBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(own)));
        for (int r = 0; r < parts.Length; r++)
        {
            var theirs = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(parts[r]);
            int k = 0;
            foreach (int b in Share(r, world.Size, batches))
                for (int i = b * rows; i < Math.Min(rollouts.Count, (b + 1) * rows); i++) scores[i] = theirs[k++];
            if (k != theirs.Length) throw new InvalidDataException($"rank {r} sent {theirs.Length} scores for {k} rollouts");
        }
        return scores;
    }

    // Per rollout: prompt (its place in the rank's share), sample, ended, the ids with the index where the trainable
    // response begins (the rows are prompt then response), the text as UTF-8.
    internal static byte[] Encode(IReadOnlyList<Rollout> rollouts)
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(rollouts.Count);
            foreach (var r in rollouts)
            {
                int start = Array.IndexOf(r.Sequence.Trainable, true);
                if (start < 0) start = r.Sequence.Ids.Length;
                for (int t = start; t < r.Sequence.Trainable.Length; t++)
                    if (!r.Sequence.Trainable[t]) throw new InvalidOperationException($"rollout {r.Prompt}/{r.Sample}: its trainable tokens are not one suffix");
                w.Write(r.Prompt); w.Write(r.Sample); w.Write(r.Ended);
                w.Write(r.Sequence.Ids.Length); w.Write(start);
                foreach (int id in r.Sequence.Ids) w.Write(id);
                w.Write(r.Text);
            }
        }
        return stream.ToArray();
    }

    internal static List<Rollout> Decode(byte[] bytes, IReadOnlyList<int> indices, string what)
    {
        using var r = new BinaryReader(new MemoryStream(bytes), Encoding.UTF8);
        int n = r.ReadInt32();
        var list = new List<Rollout>(n);
        for (int i = 0; i < n; i++)
        {
            int prompt = r.ReadInt32(), sample = r.ReadInt32();
            bool ended = r.ReadBoolean();
            int length = r.ReadInt32(), start = r.ReadInt32();
            if ((uint)prompt >= (uint)indices.Count || length < 0 || (uint)start > (uint)length)
                throw new InvalidDataException($"{what}: rollout {i} is malformed (prompt {prompt} of {indices.Count}, {length} ids from {start})");
            var ids = new int[length];
            for (int t = 0; t < length; t++) ids[t] = r.ReadInt32();
            var trainable = new bool[length];
            trainable.AsSpan(start).Fill(true);
            list.Add(new Rollout(indices[prompt], sample, new SftExample(ids, trainable), r.ReadString(), ended));
        }
        return list;
    }
}
