using System.Runtime.InteropServices;
using System.Text;

namespace Lathe.Tokenizers;

/// <summary>SentencePiece's whitespace handling for Unigram models, until the shared pipeline's Metaspace
/// pre-tokenizer is wired in: a line's words (runs of non-space characters; extra spaces removed, as SentencePiece's
/// remove_extra_whitespaces) each get the ▁ (U+2581) mark as a prefix, so "Hello world" → "▁Hello", "▁world".
/// Lines are split at '\n' (a trailing '\r' is dropped), as spm_train reads its input line by line.</summary>
public static class UnigramMetaspace
{
    /// <summary>The whitespace mark SentencePiece uses: U+2581 LOWER ONE EIGHTH BLOCK.</summary>
    public const char Mark = '\u2581';

    /// <summary>Writes the ▁-prefixed words of <paramref name="text"/> into <paramref name="buffer"/> (grown as needed)
    /// and lists their spans in it, in order, in <paramref name="words"/>.</summary>
    public static void ForEachWord(ReadOnlySpan<char> text, ref char[] buffer, List<(int Start, int Length)> words)
    {
        words.Clear();
        // Each word adds one mark and needs a separator after it (but the last), so 2 × length + 1 always suffices.
        if (buffer.Length < 2 * text.Length + 1) buffer = new char[Math.Max(2 * text.Length + 1, buffer.Length * 2)];
        int used = 0, i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            if (c == ' ' || c == '\n' || c == '\r') { i++; continue; }
            int start = used;
            buffer[used++] = Mark;
            while (i < text.Length && text[i] is not (' ' or '\n' or '\r')) buffer[used++] = text[i++];
            words.Add((start, used - start));
        }
    }

    /// <summary>Counts the ▁-prefixed words of <paramref name="texts"/>.</summary>
    public static Dictionary<string, long> CountWords(IEnumerable<string> texts)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        var lookup = counts.GetAlternateLookup<ReadOnlySpan<char>>();
        char[] buffer = new char[256];
        var words = new List<(int, int)>();
        foreach (string text in texts)
        {
            ForEachWord(text, ref buffer, words);
            foreach (var (start, length) in words)
            {
                ref long c = ref CollectionsMarshal.GetValueRefOrAddDefault(lookup, buffer.AsSpan(start, length), out _);
                c++;
            }
        }
        return counts;
    }

    /// <summary>Appends the ids of <paramref name="text"/>: each ▁-prefixed word through <paramref name="model"/>'s
    /// Viterbi segmentation. Equal to SentencePiece encoding the whole line (no piece holds ▁ after its first char).</summary>
    public static void Encode(UnigramModel model, ReadOnlySpan<char> text, List<int> ids)
    {
        char[] buffer = new char[text.Length * 2 + 2];
        var words = new List<(int Start, int Length)>();
        ForEachWord(text, ref buffer, words);
        foreach (var (start, length) in words) model.Encode(buffer.AsSpan(start, length), ids);
    }

    /// <summary>Decodes ids: concatenates the pieces (byte pieces as their bytes), turns ▁ into spaces and drops the
    /// leading one.</summary>
    public static string Decode(UnigramModel model, IReadOnlyList<int> ids)
    {
        var bytes = new List<byte>();
        Span<byte> tmp = stackalloc byte[4];
        foreach (int id in ids)
        {
            string piece = model.IdToToken(id) ?? throw new ArgumentException($"id {id} is outside the vocabulary (size {model.VocabSize}).");
            if (model.ByteFallback && piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
                && byte.TryParse(piece.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out byte b)) { bytes.Add(b); continue; }
            bytes.AddRange(Encoding.UTF8.GetBytes(piece));
        }
        string text = Encoding.UTF8.GetString(bytes.ToArray()).Replace(Mark, ' ');
        return text.StartsWith(' ') ? text[1..] : text;
    }
}
