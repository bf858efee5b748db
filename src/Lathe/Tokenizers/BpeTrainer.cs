using System.Runtime.InteropServices;

namespace Lathe.Tokenizers;

/// <summary>Learns a byte-level BPE model (Sennrich et al. 2016, on bytes as in GPT-2): start from the 256 bytes, and
/// repeatedly add the most frequent adjacent pair of symbols within pre-tokenized words as a new symbol. Pair counts
/// are kept over the unique words (weighted by their counts) and updated incrementally — only the words holding the
/// merged pair are revisited — with a priority queue whose stale entries are skipped. Ties go to the smaller
/// (left, right) id pair, so training is deterministic.</summary>
public sealed class BpeTrainer : ITokenizerTrainer
{
    public int VocabSize { get; }
    public long MinFrequency { get; }
    public IReadOnlyList<string> SpecialTokens { get; }

    public BpeTrainer(int vocabSize, IReadOnlyList<string>? specialTokens = null, long minFrequency = 2)
    {
        SpecialTokens = specialTokens ?? ["<|endoftext|>"];
        int floor = 256 + SpecialTokens.Count;
        if (vocabSize < floor)
            throw new ArgumentException($"vocab size {vocabSize} is smaller than the byte alphabet plus special tokens ({floor}).");
        if (minFrequency < 1) throw new ArgumentException($"min frequency {minFrequency} must be at least 1.");
        VocabSize = vocabSize;
        MinFrequency = minFrequency;
    }

    /// <summary>Counts the GPT-2 pre-tokens of <paramref name="texts"/> and trains on them.</summary>
    public Tokenizer Train(IEnumerable<string> texts, IProgress<double>? progress = null)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        var lookup = counts.GetAlternateLookup<ReadOnlySpan<char>>();
        var pieces = new List<PreToken>();
        foreach (string text in texts)
        {
            pieces.Clear();
            Gpt2PreTokenizer.Instance.Split(text, pieces);
            foreach (var p in pieces)
            {
                ref long c = ref CollectionsMarshal.GetValueRefOrAddDefault(lookup, text.AsSpan(p.Start, p.Length), out _);
                c++;
            }
        }
        var model = (BpeModel)Train(counts, progress);
        int next = model.VocabSize;
        return new Tokenizer(model, Gpt2PreTokenizer.Instance, SpecialTokens.Select(s => (s, next++)));
    }

    ITokenizerModel ITokenizerTrainer.Train(IReadOnlyDictionary<string, long> wordCounts, IProgress<double>? progress) => Train(wordCounts, progress);

    /// <summary>Trains on pre-tokenized words and their counts; returns the model (special tokens are added by the caller
    /// after the model's ids).</summary>
    public BpeModel Train(IReadOnlyDictionary<string, long> wordCounts, IProgress<double>? progress = null)
    {
        // Words as symbol arrays (initial symbols: byte b has id b), in a fixed order.
        var words = new List<int[]>(wordCounts.Count);
        var weights = new List<long>(wordCounts.Count);
        foreach (var (word, count) in wordCounts.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            byte[] bytes = System.Text.Encoding.UTF8.GetBytes(word);
            if (bytes.Length == 0) continue;
            words.Add(Array.ConvertAll(bytes, b => (int)b));
            weights.Add(count);
        }
        var tokens = new List<byte[]>(VocabSize);
        for (int b = 0; b < 256; b++) tokens.Add([(byte)b]);
        var merges = new List<(int, int)>();
        var pairCounts = new Dictionary<long, long>(PairKeyComparer.Instance);
        var pairWords = new Dictionary<long, List<int>>(PairKeyComparer.Instance);
        for (int w = 0; w < words.Count; w++) AddPairs(words[w], weights[w], w, pairCounts, pairWords);
        var heap = new PriorityQueue<long, (long NegCount, long Key)>();
        foreach (var (key, count) in pairCounts) heap.Enqueue(key, (-count, key));
        int targetMerges = VocabSize - 256 - SpecialTokens.Count;
        var changed = new HashSet<long>();
        var seen = new HashSet<int>();
        while (merges.Count < targetMerges && heap.TryDequeue(out long pair, out var priority))
        {
            if (!pairCounts.TryGetValue(pair, out long current) || current != -priority.NegCount) continue;  // stale
            if (current < MinFrequency) break;
            int left = (int)(pair >> 32), right = (int)pair, merged = tokens.Count;
            tokens.Add([.. tokens[left], .. tokens[right]]);
            merges.Add((left, right));
            changed.Clear();
            seen.Clear();
            var holders = pairWords[pair].ToArray();
            Array.Sort(holders);
            foreach (int w in holders)
            {
                if (!seen.Add(w)) continue;
                int[] symbols = words[w];
                if (!Contains(symbols, left, right)) continue;   // the list may hold words that lost the pair
                long weight = weights[w];
                RemovePairs(symbols, weight, pairCounts, changed);
                int[] updated = MergeSymbols(symbols, left, right, merged);
                words[w] = updated;
                AddPairs(updated, weight, w, pairCounts, pairWords, changed);
            }
            pairCounts.Remove(pair);
            pairWords.Remove(pair);
            foreach (long key in changed)
                if (key != pair && pairCounts.TryGetValue(key, out long c) && c > 0) heap.Enqueue(key, (-c, key));
            progress?.Report((double)merges.Count / targetMerges);
        }
        return new BpeModel(tokens, merges, "BPE trainer");
    }

    static bool Contains(int[] s, int a, int b)
    {
        for (int i = 0; i + 1 < s.Length; i++) if (s[i] == a && s[i + 1] == b) return true;
        return false;
    }

    static int[] MergeSymbols(int[] s, int a, int b, int merged)
    {
        var result = new List<int>(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (i + 1 < s.Length && s[i] == a && s[i + 1] == b) { result.Add(merged); i++; }
            else result.Add(s[i]);
        }
        return result.ToArray();
    }

    static long Key(int a, int b) => ((long)a << 32) | (uint)b;

    /// <summary>Hashes a packed pair with a Fibonacci multiply: long's own hash (hi ^ lo) collides for every pair
    /// with the same left ^ right.</summary>
    sealed class PairKeyComparer : IEqualityComparer<long>
    {
        public static readonly PairKeyComparer Instance = new();
        public bool Equals(long x, long y) => x == y;
        public int GetHashCode(long key) => (int)(((ulong)key * 0x9E3779B97F4A7C15UL) >> 32);
    }

    static void AddPairs(int[] s, long weight, int word, Dictionary<long, long> counts, Dictionary<long, List<int>> where, HashSet<long>? changed = null)
    {
        for (int i = 0; i + 1 < s.Length; i++)
        {
            long key = Key(s[i], s[i + 1]);
            CollectionsMarshal.GetValueRefOrAddDefault(counts, key, out _) += weight;
            ref var list = ref CollectionsMarshal.GetValueRefOrAddDefault(where, key, out bool exists);
            if (!exists) list = [];
            if (list!.Count == 0 || list[^1] != word) list.Add(word);
            changed?.Add(key);
        }
    }

    static void RemovePairs(int[] s, long weight, Dictionary<long, long> counts, HashSet<long> changed)
    {
        for (int i = 0; i + 1 < s.Length; i++)
        {
            long key = Key(s[i], s[i + 1]);
            counts[key] -= weight;
            changed.Add(key);
        }
    }
}
