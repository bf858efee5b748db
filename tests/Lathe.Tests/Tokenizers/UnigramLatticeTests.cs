using System.Text;
using Lathe.Tokenizers;

namespace Lathe.Tests.Tokenizers;

/// <summary>The lattice the trainer runs on, against brute-force enumeration of every path: the best path, the log
/// partition function and every node's marginal probability (the E step's expected counts).</summary>
public class UnigramLatticeTests
{
    /// <summary>Random pieces over {a, b, c, d} (1–3 letters, "d" alone never), random scores.</summary>
    static (List<string> Pieces, float[] Scores) RandomVocab(int seed)
    {
        var rng = new Random(seed);
        var pieces = new List<string>();
        var scores = new List<float>();
        foreach (string s in Strings())
        {
            if (s == "d") continue;
            if (s.Length == 1 || rng.NextDouble() < 0.6) { pieces.Add(s); scores.Add((float)(-1 - 7 * rng.NextDouble())); }
        }
        return (pieces, scores.ToArray());

        static IEnumerable<string> Strings()
        {
            var level = new List<string> { "" };
            for (int len = 1; len <= 3; len++)
            {
                level = level.SelectMany(s => "abcd".Select(c => s + c)).ToList();
                foreach (var s in level) yield return s;
            }
        }
    }

    /// <summary>Every path as (start, end, id) segments with its score; unknown (-1) only where no one-character piece starts.</summary>
    static List<(List<(int Start, int End, int Id)> Segments, double Score)> AllPaths(List<string> pieces, float[] scores, float unknown, string text)
    {
        var index = pieces.Select((p, i) => (p, i)).ToDictionary(x => x.p, x => x.i);
        var result = new List<(List<(int, int, int)>, double)>();
        var current = new List<(int, int, int)>();
        void Walk(int at, double score)
        {
            if (at == text.Length) { result.Add((current.ToList(), score)); return; }
            bool single = false;
            for (int end = at + 1; end <= text.Length; end++)
                if (index.TryGetValue(text[at..end], out int id))
                {
                    single |= end - at == 1;
                    current.Add((at, end, id)); Walk(end, score + scores[id]); current.RemoveAt(current.Count - 1);
                }
            if (!single) { current.Add((at, at + 1, -1)); Walk(at + 1, score + unknown); current.RemoveAt(current.Count - 1); }
        }
        Walk(0, 0);
        return result;
    }

    [Fact]
    public void Forward_backward_and_viterbi_equal_brute_force()
    {
        var rng = new Random(21);
        var lattice = new UnigramLattice();
        var path = new List<int>();
        var marginal = new double[4096];
        for (int trial = 0; trial < 150; trial++)
        {
            var (pieces, scores) = RandomVocab(trial);
            const float unknown = -20f;
            var sb = new StringBuilder();
            int length = 1 + rng.Next(9);
            for (int i = 0; i < length; i++) sb.Append("abcd"[rng.Next(4)]);
            string text = sb.ToString();
            var all = AllPaths(pieces, scores, unknown, text);
            lattice.Build(new UnigramTrie(pieces), scores, unknown, text);

            // log Z
            double max = all.Max(p => p.Score);
            double logZ = max + Math.Log(all.Sum(p => Math.Exp(p.Score - max)));
            double z = lattice.Marginals(marginal);
            Assert.Equal(logZ, z, 9);

            // Each node's marginal = total probability of the paths through it.
            for (int node = 0; node < lattice.NodeCount; node++)
            {
                var key = (lattice.Start[node], lattice.End[node], lattice.Id[node]);
                double p = all.Where(x => x.Segments.Contains(key)).Sum(x => Math.Exp(x.Score - logZ));
                Assert.True(Math.Abs(p - marginal[node]) < 1e-9, $"'{text}' node {key}: {marginal[node]} vs {p}");
            }
            Assert.Equal(all.SelectMany(p => p.Segments).Distinct().Count(), lattice.NodeCount);

            // Viterbi scores the maximum.
            lattice.Viterbi(path);
            double score = path.Sum(n => (double)lattice.Score[n]);
            Assert.True(Math.Abs(score - max) < 1e-4, $"'{text}': Viterbi {score} vs best {max}");
            Assert.Equal(text.Length, lattice.End[path[^1]]);
        }
    }
}
