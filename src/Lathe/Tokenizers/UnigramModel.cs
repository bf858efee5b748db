using System.Text;
using System.Text.Json;

namespace Lathe.Tokenizers;

/// <summary>The Unigram language-model tokenizer (Kudo 2018, "Subword Regularization"; SentencePiece's unigram model;
/// Hugging Face's "Unigram" model): each piece has a log-probability score, and a string is segmented into the pieces
/// whose scores sum highest (Viterbi over the lattice of all pieces at all positions). A character no piece covers
/// becomes the unknown piece (score = lowest score − 10, as SentencePiece and HF do); consecutive unknown characters
/// fuse into one unknown token; with byte fallback each becomes the &lt;0xXX&gt; pieces of its UTF-8 bytes instead.
/// <see cref="Sample"/> draws segmentations for subword regularisation. Encoding is thread-safe.
/// Every piece is in the trie, special and byte pieces too, as in HF (SentencePiece leaves control and byte pieces
/// out; text holding "&lt;s&gt;" literally is the only place the two differ, and a tokenizer matches its special
/// tokens before the model anyway).</summary>
public sealed class UnigramModel : ITokenizerModel
{
    /// <summary>SentencePiece's kUnkPenalty: the unknown piece scores this much below the lowest piece.</summary>
    public const float UnknownPenalty = 10f;

    readonly string[] _pieces;
    readonly double[] _scores;      // as given (written back exactly)
    readonly float[] _viterbiScores; // SentencePiece adds scores in float; so do we, so ties break the same way
    readonly Dictionary<string, int> _ids;
    readonly UnigramTrie _trie;
    readonly int[] _byteIds = new int[256];
    readonly float _unknownScore;
    readonly ThreadLocal<Scratch> _scratch = new(() => new Scratch());

    public string Type => "Unigram";
    public int VocabSize => _pieces.Length;
    /// <summary>Id of the unknown piece, or null when the model has none (then an uncovered character is an error).</summary>
    public int? UnknownId { get; }
    /// <summary>Whether uncovered characters become their UTF-8 byte pieces &lt;0x00&gt;…&lt;0xFF&gt;.</summary>
    public bool ByteFallback { get; }
    /// <summary>The pieces, by id.</summary>
    public IReadOnlyList<string> Pieces => _pieces;
    /// <summary>The scores (log probabilities), by id.</summary>
    public IReadOnlyList<double> Scores => _scores;

    /// <summary>A model from its pieces and scores (id = index). <paramref name="source"/> names the origin in errors.</summary>
    public UnigramModel(IReadOnlyList<(string Piece, double Score)> vocab, int? unknownId, bool byteFallback, string source = "Unigram model")
    {
        if (vocab.Count == 0) throw new InvalidDataException($"{source}: the vocabulary is empty.");
        if (unknownId is int u && (u < 0 || u >= vocab.Count))
            throw new InvalidDataException($"{source}: unk_id {u} is outside the vocabulary (size {vocab.Count}).");
        _pieces = new string[vocab.Count];
        _scores = new double[vocab.Count];
        _viterbiScores = new float[vocab.Count];
        _ids = new Dictionary<string, int>(vocab.Count, StringComparer.Ordinal);
        double min = double.PositiveInfinity;
        for (int i = 0; i < vocab.Count; i++)
        {
            var (piece, score) = vocab[i];
            if (piece.Length == 0) throw new InvalidDataException($"{source}: vocab entry {i} is an empty piece.");
            if (!double.IsFinite(score)) throw new InvalidDataException($"{source}: vocab entry {i} ('{piece}') has a score that is not a finite number.");
            _pieces[i] = piece;
            _scores[i] = score;
            _viterbiScores[i] = (float)score;
            _ids.TryAdd(piece, i);
            min = Math.Min(min, score);
        }
        _unknownScore = (float)min - UnknownPenalty;
        UnknownId = unknownId;
        ByteFallback = byteFallback;
        _trie = new UnigramTrie(_pieces);
        for (int b = 0; b < 256; b++) _byteIds[b] = _ids.TryGetValue(ByteToken(b), out int id) ? id : -1;
    }

    /// <summary>"&lt;0x41&gt;": the piece SentencePiece and HF use for byte 0x41 under byte fallback.</summary>
    public static string ByteToken(int b) => $"<0x{b:X2}>";

    public string? IdToToken(int id) => (uint)id < (uint)_pieces.Length ? _pieces[id] : null;
    public bool TryTokenToId(string token, out int id) => _ids.TryGetValue(token, out id);

    /// <summary>Appends the ids of the best segmentation of <paramref name="text"/>.</summary>
    public void Encode(ReadOnlySpan<char> text, List<int> ids)
    {
        var scratch = _scratch.Value!;
        scratch.Tokens.Clear();
        Viterbi(text, scratch);
        foreach (var t in scratch.Tokens) ids.Add(t.Id);
    }

    public void Tokenize(string text, PreToken piece, List<Token> output)
    {
        var scratch = _scratch.Value!;
        scratch.Tokens.Clear();
        Viterbi(text.AsSpan(piece.Start, piece.Length), scratch);
        foreach (var t in scratch.Tokens) output.Add(new Token(t.Id, t.Start + piece.Start, t.End + piece.Start));
    }

    /// <summary>Subword regularisation (Kudo 2018 §3): appends the ids of a segmentation of <paramref name="text"/>
    /// drawn at random. <paramref name="nbest"/> &lt; 0: from all segmentations, with probability ∝ P(segmentation)^alpha
    /// (forward-filtering backward-sampling over the lattice); <paramref name="nbest"/> &gt; 1: from the
    /// <paramref name="nbest"/> best, with probability ∝ exp(alpha × score); 0 or 1: the best one. The same
    /// <paramref name="seed"/> gives the same segmentation.</summary>
    public void Sample(ReadOnlySpan<char> text, List<int> ids, double alpha, int nbest, ulong seed)
    {
        ulong state = seed;
        Sample(text, ids, alpha, nbest, ref state);
    }

    /// <summary><see cref="Sample(ReadOnlySpan{char}, List{int}, double, int, ulong)"/> drawing from (and advancing) a
    /// SplitMix64 state, for a stream of samples from one seed.</summary>
    public void Sample(ReadOnlySpan<char> text, List<int> ids, double alpha, int nbest, ref ulong rngState)
    {
        if (!double.IsFinite(alpha) || alpha < 0) throw new ArgumentException($"alpha must be a finite number ≥ 0 (got {alpha}).", nameof(alpha));
        var scratch = _scratch.Value!;
        scratch.Tokens.Clear();
        if (text.Length == 0) return;
        if (nbest == 0 || nbest == 1) { Viterbi(text, scratch); }
        else
        {
            var lattice = scratch.Lattice;
            lattice.Build(_trie, _viterbiScores, _unknownScore, text);
            if (nbest < 0) lattice.Sample(alpha, ref rngState, scratch.Path);
            else
            {
                var paths = lattice.NBest(nbest);
                // exp(alpha·score) normalised, computed relative to the best score to stay in range.
                double best = paths[0].Score, total = 0;
                foreach (var p in paths) total += Math.Exp(alpha * (p.Score - best));
                double u = UnigramLattice.NextDouble(ref rngState) * total, cumulative = 0;
                int chosen = paths.Count - 1;
                for (int i = 0; i < paths.Count; i++)
                {
                    cumulative += Math.Exp(alpha * (paths[i].Score - best));
                    if (u < cumulative) { chosen = i; break; }
                }
                scratch.Path.Clear();
                scratch.Path.AddRange(paths[chosen].Nodes);
            }
            foreach (int node in scratch.Path) Emit(text, lattice.Start[node], lattice.End[node], lattice.Id[node], scratch.Tokens);
        }
        foreach (var t in scratch.Tokens) ids.Add(t.Id);
    }

    /// <summary>The n best segmentations of <paramref name="text"/> as id lists with their scores, best first.</summary>
    public List<(List<int> Ids, double Score)> NBest(ReadOnlySpan<char> text, int n)
    {
        if (n < 1) throw new ArgumentException($"n must be at least 1 (got {n}).", nameof(n));
        var result = new List<(List<int>, double)>();
        if (text.Length == 0) { result.Add(([], 0)); return result; }
        var scratch = _scratch.Value!;
        var lattice = scratch.Lattice;
        lattice.Build(_trie, _viterbiScores, _unknownScore, text);
        foreach (var (nodes, score) in lattice.NBest(n))
        {
            scratch.Tokens.Clear();
            foreach (int node in nodes) Emit(text, lattice.Start[node], lattice.End[node], lattice.Id[node], scratch.Tokens);
            var ids = new List<int>(scratch.Tokens.Count);
            foreach (var t in scratch.Tokens) ids.Add(t.Id);
            result.Add((ids, score));
        }
        return result;
    }

    /// <summary>Best path by dynamic programming straight over the trie (no lattice is stored): for each start
    /// position, every piece starting there relaxes the best score at its end. Ties keep the earlier start, as
    /// SentencePiece's encoder does.</summary>
    void Viterbi(ReadOnlySpan<char> text, Scratch scratch)
    {
        int n = text.Length;
        if (n == 0) return;
        scratch.Ensure(n + 1);
        Span<float> best = scratch.Best.AsSpan(0, n + 1);
        Span<int> from = scratch.From.AsSpan(0, n + 1), piece = scratch.PieceId.AsSpan(0, n + 1);
        from[0] = 0;
        for (int e = 1; e <= n; e++) from[e] = -1;
        best[0] = 0;
        float[] scores = _viterbiScores;
        for (int s = 0; s < n; s++)
        {
            if (from[s] < 0 && s > 0) continue;   // unreachable (inside a surrogate pair)
            int charLength = char.IsHighSurrogate(text[s]) && s + 1 < n && char.IsLowSurrogate(text[s + 1]) ? 2 : 1;
            float here = best[s];
            bool single = false;
            int node = 0;
            for (int j = s; j < n; j++)
            {
                node = _trie.Child(node, text[j]);
                if (node < 0) break;
                int id = _trie.IdAt(node);
                if (id < 0) continue;
                int e = j + 1;
                float candidate = here + scores[id];
                if (from[e] < 0 || candidate > best[e]) { best[e] = candidate; from[e] = s; piece[e] = id; }
                if (e - s == charLength) single = true;
            }
            if (!single)
            {
                int e = s + charLength;
                float candidate = here + _unknownScore;
                if (from[e] < 0 || candidate > best[e]) { best[e] = candidate; from[e] = s; piece[e] = -1; }
            }
        }
        // Walk back, then emit in text order.
        var path = scratch.Path;
        path.Clear();
        for (int e = n; e > 0; e = from[e]) path.Add(e);
        for (int i = path.Count - 1; i >= 0; i--)
        {
            int e = path[i];
            Emit(text, from[e], e, piece[e], scratch.Tokens);
        }
    }

    bool IsBytePiece(int id) => IdToToken(id) is { } t && ByteFallbackDecoder.TryByte(t, out _);

    /// <summary>Appends one lattice node as tokens: a piece as itself; an unknown character as its byte pieces (byte
    /// fallback) or as the unknown id, fused with an unknown token just before it (as HF's fuse_unk and
    /// SentencePiece's merging of unknown runs do).</summary>
    void Emit(ReadOnlySpan<char> text, int start, int end, int id, List<Token> tokens)
    {
        if (id >= 0) { tokens.Add(new Token(id, start, end)); return; }
        if (ByteFallback)
        {
            Span<byte> bytes = stackalloc byte[8];
            int count = Encoding.UTF8.GetBytes(text[start..end], bytes);
            bool all = true;
            for (int i = 0; i < count; i++) all &= _byteIds[bytes[i]] >= 0;
            if (all)
            {
                // A run of unknown characters is one unknown segment, as in HF: all its byte pieces span the run.
                int runStart = start, k = tokens.Count;
                if (k > 0 && tokens[k - 1].End == start && IsBytePiece(tokens[k - 1].Id))
                {
                    runStart = tokens[k - 1].Start;
                    while (k > 0 && tokens[k - 1].Start == runStart && tokens[k - 1].End == start && IsBytePiece(tokens[k - 1].Id))
                    {
                        k--;
                        tokens[k] = new Token(tokens[k].Id, runStart, end);
                    }
                }
                for (int i = 0; i < count; i++) tokens.Add(new Token(_byteIds[bytes[i]], runStart, end));
                return;
            }
        }
        if (UnknownId is not int unk)
        {
            int code = end - start == 2 && char.IsSurrogatePair(text[start], text[start + 1]) ? char.ConvertToUtf32(text[start], text[start + 1]) : text[start];
            throw new ArgumentException($"Unigram model: the character U+{code:X4} is not in the vocabulary and the model has no unk_id.");
        }
        if (tokens.Count > 0 && tokens[^1].Id == unk && tokens[^1].End == start)
        {
            tokens[^1] = new Token(unk, tokens[^1].Start, end);
            return;
        }
        tokens.Add(new Token(unk, start, end));
    }

    /// <summary>Writes HF's model object: {"type":"Unigram","unk_id":N,"vocab":[["piece",score],…],"byte_fallback":b}.</summary>
    public void WriteJson(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("type", "Unigram");
        if (UnknownId is int unk) writer.WriteNumber("unk_id", unk); else writer.WriteNull("unk_id");
        writer.WriteStartArray("vocab");
        for (int i = 0; i < _pieces.Length; i++)
        {
            writer.WriteStartArray();
            writer.WriteStringValue(_pieces[i]);
            writer.WriteNumberValue(_scores[i]);
            writer.WriteEndArray();
        }
        writer.WriteEndArray();
        writer.WriteBoolean("byte_fallback", ByteFallback);
        writer.WriteEndObject();
    }

    /// <summary>Reads HF's Unigram model object; a malformed one gives a one-line <see cref="InvalidDataException"/>
    /// naming <paramref name="file"/> and the field.</summary>
    public static UnigramModel FromJson(JsonElement model, string file)
    {
        if (model.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{file}: model is not an object.");
        if (model.TryGetProperty("type", out var type) && (type.ValueKind != JsonValueKind.String || type.GetString() != "Unigram"))
            throw new InvalidDataException($"{file}: model.type is {type} (expected \"Unigram\").");
        if (!model.TryGetProperty("vocab", out var vocab) || vocab.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{file}: model.vocab is missing or not an array.");
        var entries = new List<(string, double)>(vocab.GetArrayLength());
        int i = 0;
        foreach (var entry in vocab.EnumerateArray())
        {
            if (entry.ValueKind != JsonValueKind.Array || entry.GetArrayLength() != 2
                || entry[0].ValueKind != JsonValueKind.String || entry[1].ValueKind != JsonValueKind.Number)
                throw new InvalidDataException($"{file}: model.vocab[{i}] is not a [\"piece\", score] pair.");
            if (!entry[1].TryGetDouble(out double score) || !double.IsFinite(score))
                throw new InvalidDataException($"{file}: model.vocab[{i}] has a score that is not a finite number.");
            entries.Add((entry[0].GetString()!, score));
            i++;
        }
        int? unk = null;
        if (model.TryGetProperty("unk_id", out var unkElement) && unkElement.ValueKind != JsonValueKind.Null)
        {
            if (unkElement.ValueKind != JsonValueKind.Number || !unkElement.TryGetInt32(out int u))
                throw new InvalidDataException($"{file}: model.unk_id is not an integer.");
            unk = u;
        }
        bool byteFallback = false;
        if (model.TryGetProperty("byte_fallback", out var bf) && bf.ValueKind != JsonValueKind.Null)
        {
            if (bf.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) throw new InvalidDataException($"{file}: model.byte_fallback is not true or false.");
            byteFallback = bf.GetBoolean();
        }
        return new UnigramModel(entries, unk, byteFallback, $"{file}: model");
    }

    sealed class Scratch
    {
        public float[] Best = new float[256];
        public int[] From = new int[256], PieceId = new int[256];
        public readonly List<int> Path = new();
        public readonly List<Token> Tokens = new();
        public readonly UnigramLattice Lattice = new();

        public void Ensure(int size)
        {
            if (Best.Length >= size) return;
            int n = Math.Max(size, Best.Length * 2);
            Best = new float[n]; From = new int[n]; PieceId = new int[n];
        }
    }
}
