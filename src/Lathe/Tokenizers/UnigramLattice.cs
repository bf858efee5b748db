namespace Lathe.Tokenizers;

/// <summary>The lattice of one string under a Unigram vocabulary: a node for every vocabulary piece that occurs at
/// every position, plus an unknown node (id -1) one character long wherever no one-character piece starts (Kudo 2018;
/// as SentencePiece builds it). Over it: the best path (Viterbi), the n best paths, the log partition function and
/// node marginals (forward–backward), and forward-filtering backward-sampling. Buffers are reused between strings, so
/// an instance is for one thread at a time.</summary>
internal sealed class UnigramLattice
{
    /// <summary>Per node: [Start, End) in chars, piece id (-1 = unknown character), score.</summary>
    public int[] Start = new int[64], End = new int[64], Id = new int[64];
    public float[] Score = new float[64];
    public int NodeCount;
    /// <summary>Length of the string in chars.</summary>
    public int Length;

    // Nodes are made in start order, so the nodes starting at s are [_beginOffset[s], _beginOffset[s + 1]).
    int[] _beginOffset = new int[64];
    // Node indices grouped by end, start-ascending within a group: _byEnd[_endOffset[e] .. _endOffset[e + 1]).
    int[] _endOffset = new int[64], _byEnd = new int[64];
    double[] _alpha = new double[64], _beta = new double[64];
    float[] _best = new float[64];
    int[] _back = new int[64];

    /// <summary>Builds the lattice of <paramref name="text"/>. <paramref name="scores"/> holds each id's score;
    /// unknown nodes score <paramref name="unknownScore"/>.</summary>
    public void Build(UnigramTrie trie, ReadOnlySpan<float> scores, float unknownScore, ReadOnlySpan<char> text)
    {
        int n = text.Length;
        Length = n;
        NodeCount = 0;
        Grow(ref _beginOffset, n + 2);
        for (int s = 0; s < n; s++)
        {
            _beginOffset[s] = NodeCount;
            if (char.IsLowSurrogate(text[s]) && s > 0 && char.IsHighSurrogate(text[s - 1])) continue;  // inside a character
            int charLength = char.IsHighSurrogate(text[s]) && s + 1 < n && char.IsLowSurrogate(text[s + 1]) ? 2 : 1;
            bool single = false;
            int node = 0;
            for (int j = s; j < n; j++)
            {
                node = trie.Child(node, text[j]);
                if (node < 0) break;
                int id = trie.IdAt(node);
                if (id < 0) continue;
                Add(s, j + 1, id, scores[id]);
                if (j + 1 - s == charLength) single = true;
            }
            if (!single) Add(s, s + charLength, -1, unknownScore);
        }
        _beginOffset[n] = NodeCount;
        _beginOffset[n + 1] = NodeCount;

        // Group by end with a stable counting sort (start order is kept inside each group).
        Grow(ref _endOffset, n + 2);
        Grow(ref _byEnd, NodeCount);
        Array.Clear(_endOffset, 0, n + 2);
        for (int i = 0; i < NodeCount; i++) _endOffset[End[i] + 1]++;
        for (int e = 1; e <= n + 1; e++) _endOffset[e] += _endOffset[e - 1];
        for (int i = 0; i < NodeCount; i++) _byEnd[_endOffset[End[i]]++] = i;
        for (int e = n + 1; e > 0; e--) _endOffset[e] = _endOffset[e - 1];
        _endOffset[0] = 0;
    }

    void Add(int start, int end, int id, float score)
    {
        if (NodeCount == Start.Length)
        {
            int size = NodeCount * 2;
            Array.Resize(ref Start, size); Array.Resize(ref End, size); Array.Resize(ref Id, size); Array.Resize(ref Score, size);
        }
        Start[NodeCount] = start; End[NodeCount] = end; Id[NodeCount] = id; Score[NodeCount] = score;
        NodeCount++;
    }

    static void Grow<T>(ref T[] array, int size)
    {
        if (array.Length < size) array = new T[Math.Max(size, array.Length * 2)];
    }

    /// <summary>The best path, as node indices in text order, into <paramref name="path"/> (cleared first). Ties go to
    /// the path whose last node starts first, as in SentencePiece. Scores add in float, as SentencePiece adds them.</summary>
    public void Viterbi(List<int> path)
    {
        int n = Length;
        Grow(ref _best, n + 1);
        Grow(ref _back, n + 1);
        Span<float> best = _best.AsSpan(0, n + 1);
        Span<int> back = _back.AsSpan(0, n + 1);   // the best path's last node per end position (-1: unreachable)
        best[0] = 0;
        for (int e = 1; e <= n; e++)
        {
            float bestScore = 0; int bestNode = -1;
            for (int k = _endOffset[e]; k < _endOffset[e + 1]; k++)
            {
                int node = _byEnd[k];
                int s = Start[node];
                if (s > 0 && back[s] < 0) continue;   // start not reachable
                float score = best[s] + Score[node];
                if (bestNode < 0 || score > bestScore) { bestScore = score; bestNode = node; }
            }
            best[e] = bestScore;
            back[e] = bestNode;
        }
        path.Clear();
        for (int e = n; e > 0;)
        {
            int node = back[e];
            path.Add(node);
            e = Start[node];
        }
        path.Reverse();
    }

    /// <summary>Log of the sum over all paths of exp(<paramref name="theta"/> × path score) (the forward pass); leaves
    /// the forward log-sums per position for <see cref="Marginals"/> and <see cref="Sample"/>.</summary>
    public double Forward(double theta)
    {
        int n = Length;
        Grow(ref _alpha, n + 1);
        Span<double> alpha = _alpha.AsSpan(0, n + 1);
        alpha[0] = 0;
        for (int e = 1; e <= n; e++)
        {
            double max = double.NegativeInfinity;
            for (int k = _endOffset[e]; k < _endOffset[e + 1]; k++)
            {
                int node = _byEnd[k];
                double v = alpha[Start[node]] + theta * Score[node];
                if (v > max) max = v;
            }
            if (double.IsNegativeInfinity(max)) { alpha[e] = max; continue; }
            double sum = 0;
            for (int k = _endOffset[e]; k < _endOffset[e + 1]; k++)
            {
                int node = _byEnd[k];
                sum += Math.Exp(alpha[Start[node]] + theta * Score[node] - max);
            }
            alpha[e] = max + Math.Log(sum);
        }
        return alpha[n];
    }

    /// <summary>Forward–backward at theta = 1: writes each node's posterior probability into
    /// <paramref name="marginal"/> (length ≥ <see cref="NodeCount"/>) and returns the log partition function.</summary>
    public double Marginals(Span<double> marginal)
    {
        int n = Length;
        double z = Forward(1.0);
        Grow(ref _beta, n + 1);
        Span<double> beta = _beta.AsSpan(0, n + 1), alpha = _alpha.AsSpan(0, n + 1);
        beta[n] = 0;
        for (int s = n - 1; s >= 0; s--)
        {
            double max = double.NegativeInfinity;
            for (int node = _beginOffset[s]; node < _beginOffset[s + 1]; node++)
            {
                double v = Score[node] + beta[End[node]];
                if (v > max) max = v;
            }
            if (double.IsNegativeInfinity(max)) { beta[s] = max; continue; }
            double sum = 0;
            for (int node = _beginOffset[s]; node < _beginOffset[s + 1]; node++) sum += Math.Exp(Score[node] + beta[End[node]] - max);
            beta[s] = max + Math.Log(sum);
        }
        for (int node = 0; node < NodeCount; node++)
            marginal[node] = Math.Exp(alpha[Start[node]] + Score[node] + beta[End[node]] - z);
        return z;
    }

    /// <summary>Forward-filtering backward-sampling: one path drawn with probability ∝ exp(theta × path score), into
    /// <paramref name="path"/> (node indices in text order).</summary>
    public void Sample(double theta, ref ulong rngState, List<int> path)
    {
        Forward(theta);
        Span<double> alpha = _alpha.AsSpan(0, Length + 1);
        path.Clear();
        for (int e = Length; e > 0;)
        {
            // The last node of a path to e is `node` with probability exp(alpha[start] + theta·score − alpha[e]).
            double u = NextDouble(ref rngState), cumulative = 0;
            int chosen = -1;
            for (int k = _endOffset[e]; k < _endOffset[e + 1]; k++)
            {
                int node = _byEnd[k];
                double p = Math.Exp(alpha[Start[node]] + theta * Score[node] - alpha[e]);
                if (p <= 0) continue;
                chosen = node;          // the last node with p > 0 absorbs rounding in the cumulative sum
                cumulative += p;
                if (u < cumulative) break;
            }
            path.Add(chosen);
            e = Start[chosen];
        }
        path.Reverse();
    }

    /// <summary>The <paramref name="k"/> best paths (fewer if the lattice has fewer), best first, each as node indices
    /// in text order with its score (scores add in double). Equal scores keep the order the paths were found in.</summary>
    public List<(int[] Nodes, double Score)> NBest(int k)
    {
        int n = Length;
        // Per end position up to k entries: (score, last node, rank of the prefix path at the node's start).
        var score = new double[(n + 1) * k];
        var last = new int[(n + 1) * k];
        var prevRank = new int[(n + 1) * k];
        var count = new int[n + 1];
        count[0] = 1;
        score[0] = 0; last[0] = -1;
        for (int e = 1; e <= n; e++)
        {
            int baseE = e * k;
            for (int j = _endOffset[e]; j < _endOffset[e + 1]; j++)
            {
                int node = _byEnd[j], s = Start[node];
                for (int r = 0; r < count[s]; r++)
                {
                    double v = score[s * k + r] + Score[node];
                    int c = count[e];
                    if (c == k && v <= score[baseE + k - 1]) break;   // prefixes are sorted: the rest are no better
                    int at = Math.Min(c, k - 1);
                    while (at > 0 && score[baseE + at - 1] < v) at--;
                    int moveFrom = Math.Min(c, k - 1);
                    for (int m = moveFrom; m > at; m--)
                    {
                        score[baseE + m] = score[baseE + m - 1]; last[baseE + m] = last[baseE + m - 1]; prevRank[baseE + m] = prevRank[baseE + m - 1];
                    }
                    score[baseE + at] = v; last[baseE + at] = node; prevRank[baseE + at] = r;
                    if (c < k) count[e] = c + 1;
                }
            }
        }
        var result = new List<(int[], double)>(count[n]);
        var nodes = new List<int>();
        for (int r = 0; r < count[n]; r++)
        {
            nodes.Clear();
            int e = n, rank = r;
            while (e > 0)
            {
                int node = last[e * k + rank];
                nodes.Add(node);
                rank = prevRank[e * k + rank];
                e = Start[node];
            }
            nodes.Reverse();
            result.Add((nodes.ToArray(), score[n * k + r]));
        }
        return result;
    }

    /// <summary>SplitMix64 (Steele, Lea and Flood 2014): a uniform double in [0, 1) from a 64-bit state.</summary>
    public static double NextDouble(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53));
    }
}
