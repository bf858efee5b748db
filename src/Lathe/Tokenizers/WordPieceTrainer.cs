namespace Lathe.Tokenizers;

/// <summary>Learns a WordPiece vocabulary the way Hugging Face's WordPieceTrainer does: words are split into their
/// characters, every character after the first carrying the continuation prefix ("hug" → h ##u ##g); the vocabulary
/// starts as the special tokens, then the alphabet, then the prefixed characters in order of appearance; then the
/// most frequent adjacent pair is merged until the vocabulary is full ("h" + "##u" → "hu", "##u" + "##g" → "##ug").
/// Pair counts are kept incrementally (only the words holding the merged pair are revisited) with a max-heap of
/// candidates; ties go to the pair of lower ids, so training is deterministic (Hugging Face's tie order may differ).</summary>
public sealed class WordPieceTrainer(int vocabSize, IReadOnlyList<string>? specialTokens = null, long minFrequency = 0,
    int limitAlphabet = 1000, string prefix = "##", string unknown = "[UNK]") : ITokenizerTrainer
{
    public int VocabSize { get; } = vocabSize;
    public IReadOnlyList<string> SpecialTokens { get; } = specialTokens ?? ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

    public ITokenizerModel Train(IReadOnlyDictionary<string, long> wordCounts, IProgress<double>? progress = null) => TrainModel(wordCounts, progress);

    public WordPieceModel TrainModel(IReadOnlyDictionary<string, long> wordCounts, IProgress<double>? progress = null)
    {
        var tokens = new List<string>();
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        int Id(string t)
        {
            if (!ids.TryGetValue(t, out int id)) { id = tokens.Count; ids[t] = id; tokens.Add(t); }
            return id;
        }
        foreach (string s in SpecialTokens) Id(s);
        if (!ids.ContainsKey(unknown)) throw new ArgumentException($"wordpiece: the unknown token '{unknown}' must be one of the special tokens.");

        // The alphabet: the most frequent characters (up to limit_alphabet), sorted; rarer ones become [UNK].
        var charCounts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (word, count) in wordCounts)
            foreach (var rune in word.EnumerateRunes())
                charCounts[rune.ToString()] = charCounts.GetValueOrDefault(rune.ToString()) + count;
        var alphabet = charCounts.OrderByDescending(c => c.Value).ThenBy(c => c.Key, StringComparer.Ordinal).Take(limitAlphabet)
            .Select(c => c.Key).Order(StringComparer.Ordinal).ToList();
        if (VocabSize < SpecialTokens.Count + alphabet.Count)
            throw new ArgumentException($"wordpiece: --vocab {VocabSize} is smaller than the {SpecialTokens.Count} special tokens + {alphabet.Count} characters of the alphabet.");
        foreach (string c in alphabet) Id(c);
        var inAlphabet = alphabet.ToHashSet(StringComparer.Ordinal);

        // Words as symbol ids (a word holding a character outside the alphabet is left out: it can only be [UNK]).
        var words = new List<int[]>();
        var counts = new List<long>();
        foreach (var (word, count) in wordCounts.OrderBy(w => w.Key, StringComparer.Ordinal))
        {
            var symbols = new List<int>();
            bool ok = true;
            foreach (var rune in word.EnumerateRunes())
            {
                string c = rune.ToString();
                if (!inAlphabet.Contains(c)) { ok = false; break; }
                symbols.Add(Id(symbols.Count == 0 ? c : prefix + c));
            }
            if (ok && symbols.Count > 0) { words.Add([.. symbols]); counts.Add(count); }
        }
        if (tokens.Count > VocabSize)
            throw new ArgumentException($"wordpiece: --vocab {VocabSize} is smaller than the {tokens.Count} special tokens, characters and continuation characters.");

        var pairCount = new Dictionary<(int, int), long>();
        var where = new Dictionary<(int, int), HashSet<int>>();
        for (int w = 0; w < words.Count; w++) AddPairs(w, +1);
        var heap = new PriorityQueue<(int A, int B), (long Count, int A, int B)>(Comparer<(long Count, int A, int B)>.Create((x, y) =>
            x.Count != y.Count ? y.Count.CompareTo(x.Count) : x.A != y.A ? x.A.CompareTo(y.A) : x.B.CompareTo(y.B)));
        foreach (var (pair, count) in pairCount) heap.Enqueue(pair, (count, pair.Item1, pair.Item2));

        int target = VocabSize, start = tokens.Count;
        while (tokens.Count < target && heap.TryDequeue(out var pair, out var key))
        {
            long current = pairCount.GetValueOrDefault((pair.A, pair.B));
            if (current != key.Count) { if (current > 0) heap.Enqueue(pair, (current, pair.A, pair.B)); continue; }   // stale
            if (current < Math.Max(1, minFrequency)) break;
            string right = tokens[pair.B];
            int merged = Id(tokens[pair.A] + (right.StartsWith(prefix, StringComparison.Ordinal) ? right[prefix.Length..] : right));
            var touched = new HashSet<(int, int)>();
            foreach (int w in where[(pair.A, pair.B)].ToArray())
            {
                AddPairs(w, -1, touched);
                words[w] = Merge(words[w], pair.A, pair.B, merged);
                AddPairs(w, +1, touched);
            }
            foreach (var p in touched)
                if (pairCount.TryGetValue(p, out long c) && c > 0) heap.Enqueue(p, (c, p.Item1, p.Item2));
            progress?.Report((double)(tokens.Count - start) / Math.Max(1, target - start));
        }
        return new WordPieceModel(tokens, unknown, prefix);

        void AddPairs(int w, int sign, HashSet<(int, int)>? touched = null)
        {
            var s = words[w];
            for (int i = 0; i + 1 < s.Length; i++)
            {
                var p = (s[i], s[i + 1]);
                long c = pairCount.GetValueOrDefault(p) + sign * counts[w];
                if (c == 0) pairCount.Remove(p); else pairCount[p] = c;
                if (sign > 0) { if (!where.TryGetValue(p, out var set)) where[p] = set = []; set.Add(w); }
                touched?.Add(p);
            }
        }
    }

    // The word with every non-overlapping occurrence of (a, b), left to right, replaced by `merged`.
    static int[] Merge(int[] word, int a, int b, int merged)
    {
        var result = new List<int>(word.Length);
        for (int i = 0; i < word.Length; i++)
        {
            if (i + 1 < word.Length && word[i] == a && word[i + 1] == b) { result.Add(merged); i++; }
            else result.Add(word[i]);
        }
        return [.. result];
    }
}
