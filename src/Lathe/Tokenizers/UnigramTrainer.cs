namespace Lathe.Tokenizers;

/// <summary>Learns a <see cref="UnigramModel"/> as SentencePiece does (Kudo 2018 §3.2; SentencePiece's
/// unigram_model_trainer): seed the vocabulary with the required characters and the most frequent substrings
/// (<see cref="UnigramSeeds"/>); then repeat — <see cref="SubIterations"/> EM steps (E: expected piece counts from
/// forward–backward over each word's lattice; M: the Bayesian (variational, Dirichlet-process) update
/// log p = ψ(count) − ψ(total), dropping pieces expected less than 0.5 times), then prune to
/// max(<see cref="ShrinkingFactor"/> × size, 1.1 × vocab) pieces, dropping those whose removal costs the corpus
/// likelihood least — until the vocabulary is within 1.1 × the target; finally keep the required characters and the
/// best-scored pieces up to the vocabulary size. Words are expected to carry SentencePiece's ▁ whitespace mark as a
/// prefix (a Metaspace pre-tokenizer). Deterministic: the same words give the same model bit for bit, for any
/// <see cref="Threads"/> (expected counts are summed in 2⁻³² fixed point, which adds associatively).</summary>
public sealed class UnigramTrainer : ITokenizerTrainer
{
    /// <summary>SentencePiece's kExpectedFrequencyThreshold: pieces expected fewer times are dropped in the M step.</summary>
    const double ExpectedFrequencyThreshold = 0.5;
    /// <summary>EM stops once the pieces number at most this factor × the vocabulary size (SentencePiece's 1.1).</summary>
    const double DesiredVocabFactor = 1.1;
    // Expected counts add in 2^-32 fixed point in 128-bit integers: integer addition is associative, so the sum is the
    // same whichever thread adds which word, and 2^95 of headroom never overflows.
    const double FixedPointScale = 4294967296.0;   // 2^32

    public int VocabSize { get; }
    /// <summary>Tokens placed first in the vocabulary (ids 0, 1, …); one of them is <see cref="UnknownToken"/>.</summary>
    public IReadOnlyList<string> SpecialTokens { get; }
    public string UnknownToken { get; }
    /// <summary>Adds the 256 byte pieces &lt;0x00&gt;…&lt;0xFF&gt; after the special tokens, so no character is unknown.</summary>
    public bool ByteFallback { get; }
    public double CharacterCoverage { get; }
    public int MaxPieceLength { get; }
    public double ShrinkingFactor { get; }
    public int SubIterations { get; }
    public int SeedSize { get; }
    public int Threads { get; }

    public UnigramTrainer(int vocabSize, IReadOnlyList<string>? specialTokens = null, string unknownToken = "<unk>", bool byteFallback = false,
        double characterCoverage = 0.9995, int maxPieceLength = 16, double shrinkingFactor = 0.75, int subIterations = 2,
        int seedSize = 1_000_000, int threads = 1)
    {
        SpecialTokens = specialTokens ?? ["<unk>", "<s>", "</s>"];
        if (!SpecialTokens.Contains(unknownToken)) SpecialTokens = [unknownToken, .. SpecialTokens];
        if (SpecialTokens.Distinct(StringComparer.Ordinal).Count() != SpecialTokens.Count) throw new ArgumentException("special tokens must be distinct.");
        if (!(characterCoverage > 0 && characterCoverage <= 1)) throw new ArgumentException($"character coverage {characterCoverage} must be in (0, 1].");
        if (maxPieceLength < 1) throw new ArgumentException($"max piece length {maxPieceLength} must be at least 1.");
        if (!(shrinkingFactor > 0 && shrinkingFactor < 1)) throw new ArgumentException($"shrinking factor {shrinkingFactor} must be in (0, 1).");
        if (subIterations < 1) throw new ArgumentException($"sub-iterations {subIterations} must be at least 1.");
        if (threads < 1) throw new ArgumentException($"threads {threads} must be at least 1.");
        int floor = SpecialTokens.Count + (byteFallback ? 256 : 0) + 1;
        if (vocabSize < floor) throw new ArgumentException($"vocab size {vocabSize} is smaller than the special tokens{(byteFallback ? ", byte pieces" : "")} and one piece ({floor}).");
        if (seedSize < vocabSize) throw new ArgumentException($"seed size {seedSize} must be at least the vocab size {vocabSize}.");
        VocabSize = vocabSize; UnknownToken = unknownToken; ByteFallback = byteFallback; CharacterCoverage = characterCoverage;
        MaxPieceLength = maxPieceLength; ShrinkingFactor = shrinkingFactor; SubIterations = subIterations; SeedSize = seedSize; Threads = threads;
    }

    ITokenizerModel ITokenizerTrainer.Train(IReadOnlyDictionary<string, long> wordCounts, IProgress<double>? progress) => Train(wordCounts, progress);

    /// <summary>Splits <paramref name="texts"/> with the Metaspace rule (<see cref="UnigramMetaspace"/>) and trains on
    /// the word counts.</summary>
    public UnigramModel Train(IEnumerable<string> texts, IProgress<double>? progress = null) => Train(UnigramMetaspace.CountWords(texts), progress);

    /// <summary>Trains on words (with their ▁ marks) and their counts.</summary>
    public UnigramModel Train(IReadOnlyDictionary<string, long> wordCounts, IProgress<double>? progress = null)
    {
        var merged = new Dictionary<string, long>(wordCounts.Count, StringComparer.Ordinal);
        foreach (var (word, count) in wordCounts)
        {
            if (count < 0) throw new ArgumentException($"word '{word}' has a negative count ({count}).");
            if (word.Length == 0 || count == 0) continue;
            // A lone surrogate (text that was not valid UTF-16) becomes U+FFFD, so every character is a whole code point.
            string clean = ReplaceLoneSurrogates(word);
            merged[clean] = merged.GetValueOrDefault(clean) + count;
        }
        var words = new List<(string Word, long Count)>(merged.Count);
        foreach (var (word, count) in merged) words.Add((word, count));
        words.Sort((a, b) => string.CompareOrdinal(a.Word, b.Word));
        if (words.Count == 0) throw new ArgumentException("no words to train on (the input is empty).");

        var required = UnigramSeeds.RequiredCharacters(words, CharacterCoverage);
        int reserved = SpecialTokens.Count + (ByteFallback ? 256 : 0);
        if (VocabSize - reserved < required.Count)
            throw new ArgumentException($"vocab size {VocabSize} is smaller than the alphabet: {required.Count} required characters (character coverage {CharacterCoverage}) + {reserved} special{(ByteFallback ? " and byte" : "")} tokens need at least {required.Count + reserved}.");
        var requiredRunes = new HashSet<int>(required.Select(r => char.ConvertToUtf32(r.Char, 0)));

        var seeds = UnigramSeeds.Make(words, required, requiredRunes, MaxPieceLength, SeedSize);
        double seedTotal = 0;
        foreach (var s in seeds) seedTotal += s.Score;
        double logTotal = Math.Log(seedTotal);
        var pieces = new List<string>(seeds.Count);
        var scores = new List<float>(seeds.Count);
        foreach (var s in seeds) { pieces.Add(s.Piece); scores.Add((float)(Math.Log(s.Score) - logTotal)); }
        progress?.Report(0.05);

        int target = VocabSize - reserved;
        int desired = (int)(VocabSize * DesiredVocabFactor);
        int initial = pieces.Count;
        while (true)
        {
            for (int iteration = 0; iteration < SubIterations; iteration++)
            {
                var expected = ExpectedCounts(words, pieces, scores);
                (pieces, scores) = Maximize(pieces, expected);
            }
            if (pieces.Count <= desired) break;
            int before = pieces.Count;
            (pieces, scores) = Prune(words, pieces, scores, desired);
            if (pieces.Count >= before) break;   // cannot happen (pruning keeps max(desired, 0.75 n) < n), but never loop
            progress?.Report(0.05 + 0.9 * Math.Clamp(Math.Log((double)initial / pieces.Count) / Math.Log(Math.Max(1.0001, (double)initial / desired)), 0, 1));
        }
        var model = Finalize(pieces, scores, required, target);
        progress?.Report(1.0);
        return model;
    }

    /// <summary>E step: the expected count of each piece over all words (forward–backward on each word's lattice).</summary>
    double[] ExpectedCounts(List<(string Word, long Count)> words, List<string> pieces, List<float> scores)
    {
        var trie = new UnigramTrie(pieces);
        float[] scoreArray = scores.ToArray();
        float unknown = MinScore(scoreArray) - UnigramModel.UnknownPenalty;
        int threads = Math.Min(Threads, Math.Max(1, words.Count / 1024));
        var partial = new Int128[threads][];
        RunParallel(threads, t =>
        {
            var sums = partial[t] = new Int128[pieces.Count];
            var lattice = new UnigramLattice();
            var marginal = new double[256];
            for (int w = t; w < words.Count; w += threads)
            {
                var (word, count) = words[w];
                lattice.Build(trie, scoreArray, unknown, word);
                if (marginal.Length < lattice.NodeCount) marginal = new double[lattice.NodeCount * 2];
                lattice.Marginals(marginal);
                for (int node = 0; node < lattice.NodeCount; node++)
                {
                    int id = lattice.Id[node];
                    if (id >= 0) sums[id] += (Int128)Math.Round(count * marginal[node] * FixedPointScale);
                }
            }
        });
        var expected = new double[pieces.Count];
        for (int id = 0; id < pieces.Count; id++)
        {
            Int128 total = 0;
            for (int t = 0; t < threads; t++) total += partial[t][id];
            expected[id] = (double)total / FixedPointScale;
        }
        return expected;
    }

    /// <summary>M step with SentencePiece's Bayesian update: log p(piece) = ψ(expected) − ψ(Σ expected).</summary>
    static (List<string>, List<float>) Maximize(List<string> pieces, double[] expected)
    {
        var kept = new List<string>(pieces.Count);
        var counts = new List<double>(pieces.Count);
        double sum = 0;
        for (int i = 0; i < pieces.Count; i++)
        {
            if (expected[i] < ExpectedFrequencyThreshold) continue;
            kept.Add(pieces[i]);
            counts.Add(expected[i]);
            sum += expected[i];
        }
        double logSum = Digamma(sum);
        var scores = new List<float>(kept.Count);
        foreach (double c in counts) scores.Add((float)(Digamma(c) - logSum));
        return (kept, scores);
    }

    /// <summary>Pruning (Kudo 2018 §3.2 step 4, as SentencePiece approximates it): a piece whose best segmentation is
    /// not itself can go; for one that is, its loss is the drop in corpus log-likelihood if each of its uses were
    /// replaced by its second-best segmentation. Pieces no word's best path uses go; pieces with no second-best
    /// segmentation (single characters) stay.
    /// Keeps max(<paramref name="desired"/>, shrinking factor × size) pieces, highest loss first.</summary>
    (List<string>, List<float>) Prune(List<(string Word, long Count)> words, List<string> pieces, List<float> scores, int desired)
    {
        var trie = new UnigramTrie(pieces);
        float[] scoreArray = scores.ToArray();
        float unknown = MinScore(scoreArray) - UnigramModel.UnknownPenalty;
        int n = pieces.Count;

        // How each piece would be segmented without itself.
        var alwaysKeep = new bool[n];
        var alternatives = new int[n][];
        int threads = Math.Min(Threads, Math.Max(1, n / 1024));
        RunParallel(threads, t =>
        {
            var lattice = new UnigramLattice();
            for (int i = t; i < n; i += threads)
            {
                lattice.Build(trie, scoreArray, unknown, pieces[i]);
                var best = lattice.NBest(2);
                alternatives[i] = [];
                if (best.Count == 1) alwaysKeep[i] = true;
                else if (best[0].Nodes.Length >= 2) alwaysKeep[i] = false;   // not used by its own best path: removable
                else
                {
                    alwaysKeep[i] = true;
                    var alt = best[1].Nodes;
                    alternatives[i] = new int[alt.Length];
                    for (int k = 0; k < alt.Length; k++) alternatives[i][k] = lattice.Id[alt[k]];
                }
            }
        });

        // Viterbi counts of each piece over the corpus.
        int wordThreads = Math.Min(Threads, Math.Max(1, words.Count / 1024));
        var partial = new long[wordThreads][];
        RunParallel(wordThreads, t =>
        {
            var freq = partial[t] = new long[n];
            var lattice = new UnigramLattice();
            var path = new List<int>();
            for (int w = t; w < words.Count; w += wordThreads)
            {
                lattice.Build(trie, scoreArray, unknown, words[w].Word);
                lattice.Viterbi(path);
                foreach (int node in path)
                {
                    int id = lattice.Id[node];
                    if (id >= 0) freq[id] += words[w].Count;
                }
            }
        });
        var frequency = new double[n];
        double sum = 0, wordTotal = 0;
        foreach (var (_, c) in words) wordTotal += c;
        for (int i = 0; i < n; i++)
        {
            long f = 0;
            for (int t = 0; t < wordThreads; t++) f += partial[t][i];
            frequency[i] = f;
            sum += f;
        }
        double logSum = Math.Log(sum);

        var keep = new List<int>();
        var candidates = new List<(int Id, double Loss)>();
        for (int i = 0; i < n; i++)
        {
            if (frequency[i] == 0 || !alwaysKeep[i]) continue;
            if (alternatives[i].Length == 0) { keep.Add(i); continue; }
            // F: the share of the corpus's words using piece i (each use once, as SentencePiece's inverted index).
            double share = frequency[i] / wordTotal;
            double logProb = Math.Log(frequency[i]) - logSum;
            // Removing i moves its count onto each of its alternatives, so the total grows by freq × (alternatives − 1).
            // SentencePiece puts the number of pieces where the number of alternatives is meant; we keep its formula:
            // it is what the reference tool does, and it measured better (SOTU held-out bytes/token 4.9852 vs 4.9828 at
            // 8k, 4.5147 vs 4.5123 at 4k).
            double logSumAlt = Math.Log(sum + frequency[i] * (n - 1));
            double logProbAlt = 0;
            foreach (int a in alternatives[i]) logProbAlt += Math.Log((a >= 0 ? frequency[a] : 0) + frequency[i]) - logSumAlt;
            candidates.Add((i, share * (logProb - logProbAlt)));
        }
        int size = Math.Max(desired, (int)(ShrinkingFactor * n));
        candidates.Sort((x, y) => y.Loss != x.Loss ? y.Loss.CompareTo(x.Loss) : x.Id.CompareTo(y.Id));
        for (int k = 0; k < candidates.Count && keep.Count < size; k++) keep.Add(candidates[k].Id);
        keep.Sort();
        var newPieces = new List<string>(keep.Count);
        var newScores = new List<float>(keep.Count);
        foreach (int i in keep) { newPieces.Add(pieces[i]); newScores.Add(scoreArray[i]); }
        return (newPieces, newScores);
    }

    /// <summary>The final vocabulary: special tokens, byte pieces, then the required characters (those EM dropped
    /// get the lowest score minus a small step each, most frequent first) and the best-scored pieces up to
    /// <paramref name="target"/>, all sorted by score (ties by piece).</summary>
    UnigramModel Finalize(List<string> pieces, List<float> scores, List<(string Char, long Count)> required, int target)
    {
        var score = new Dictionary<string, float>(StringComparer.Ordinal);
        for (int i = 0; i < pieces.Count; i++) score.TryAdd(pieces[i], scores[i]);
        float min = MinScore(scores.ToArray());
        var final = new Dictionary<string, float>(StringComparer.Ordinal);
        float penalty = 0;
        foreach (var (c, _) in required)
        {
            if (score.TryGetValue(c, out float s)) final[c] = s;
            else { final[c] = min + penalty; penalty -= 0.0001f; }
        }
        var byScore = Enumerable.Range(0, pieces.Count).OrderByDescending(i => scores[i]).ThenBy(i => pieces[i], StringComparer.Ordinal);
        var specials = new HashSet<string>(SpecialTokens, StringComparer.Ordinal);
        if (ByteFallback) for (int b = 0; b < 256; b++) specials.Add(UnigramModel.ByteToken(b));
        foreach (int i in byScore)
        {
            if (final.Count >= target) break;
            if (specials.Contains(pieces[i])) continue;
            final.TryAdd(pieces[i], scores[i]);
        }
        var vocab = new List<(string, double)>(VocabSize);
        foreach (string s in SpecialTokens) vocab.Add((s, 0.0));
        if (ByteFallback) for (int b = 0; b < 256; b++) vocab.Add((UnigramModel.ByteToken(b), 0.0));
        foreach (var (piece, s) in final.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal)) vocab.Add((piece, s));
        // As spm_train's hard_vocab_limit: a text too small for the vocabulary is an error, not a smaller vocabulary.
        if (vocab.Count < VocabSize)
            throw new ArgumentException($"vocab size {VocabSize} is more than this text supports: it yields {vocab.Count} pieces; use a smaller vocab size or more text.");
        int unk = vocab.FindIndex(v => v.Item1 == UnknownToken);
        return new UnigramModel(vocab, unk, ByteFallback);
    }

    static string ReplaceLoneSurrogates(string word)
    {
        for (int i = 0; i < word.Length; i++)
        {
            if (!char.IsSurrogate(word[i])) continue;
            if (char.IsSurrogatePair(word, i)) { i++; continue; }
            var sb = new System.Text.StringBuilder(word.Length);
            foreach (var rune in word.EnumerateRunes()) sb.Append(rune.ToString());   // invalid units enumerate as U+FFFD
            return sb.ToString();
        }
        return word;
    }

    static float MinScore(float[] scores)
    {
        float min = 0;
        foreach (float s in scores) min = Math.Min(min, s);
        return min;
    }

    /// <summary>Runs <paramref name="body"/>(t) for t in [0, threads) on that many threads.</summary>
    static void RunParallel(int threads, Action<int> body)
    {
        if (threads == 1) { body(0); return; }
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, body);
    }

    /// <summary>ψ(x), the digamma function, for x &gt; 0: the recurrence ψ(x) = ψ(x + 1) − 1/x up to x ≥ 10, then the
    /// asymptotic series ln x − 1/(2x) − Σ B₂ₖ/(2k x²ᵏ) (Abramowitz and Stegun 6.3.18).</summary>
    public static double Digamma(double x)
    {
        double result = 0;
        while (x < 10) { result -= 1 / x; x += 1; }
        double inv = 1 / x, inv2 = inv * inv;
        result += Math.Log(x) - 0.5 * inv
            - inv2 * (1.0 / 12 - inv2 * (1.0 / 120 - inv2 * (1.0 / 252 - inv2 * (1.0 / 240 - inv2 * (1.0 / 132)))));
        return result;
    }
}
