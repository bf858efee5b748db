namespace Lathe.Knowledge.Grounding;

/// <summary>One word of a text: where it is and its <see cref="NameKey"/>.</summary>
internal readonly record struct TextWord(int Start, int Length, string Key)
{
    public int End => Start + Length;
}

/// <summary>Splits text into words for linking and template matching: runs of non-space characters with the
/// punctuation around them trimmed ("France?" → "France", "(FRA)" → "FRA"), keeping what is inside ("d'Ivoire",
/// "Guinea-Bissau", "55.845"). A possessive "'s" becomes a word of its own, so "France's capital" lines up with the
/// template "{s}'s capital" word for word. Names are looked up by the raw text of a span of words, never by the
/// words' keys, so the split only decides where mentions may start and end.</summary>
internal static class TextWords
{
    public static List<TextWord> Split(string text)
    {
        var words = new List<TextWord>();
        int i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
            int start = i;
            while (i < text.Length && !char.IsWhiteSpace(text[i])) i++;
            int end = i;
            while (start < end && !char.IsLetterOrDigit(text[start])) start++;
            while (end > start && !char.IsLetterOrDigit(text[end - 1])) end--;
            if (end <= start) continue;
            // "France's" → "France" + "'s" (straight or typographic apostrophe).
            if (end - start > 2 && (text[end - 1] == 's' || text[end - 1] == 'S') && text[end - 2] is '\'' or '\u2019')
            {
                Add(words, text, start, end - 2);
                Add(words, text, end - 2, end);
            }
            else Add(words, text, start, end);
        }
        return words;
    }

    static void Add(List<TextWord> words, string text, int start, int end)
    {
        string key = NameKey.Of(text.AsSpan(start, end - start).ToString());
        // A lone "'s" keys to "s"; keep it as a word so templates and questions agree.
        if (key.Length > 0) words.Add(new TextWord(start, end - start, key));
    }

    /// <summary>The keys of <paramref name="text"/>'s words.</summary>
    public static string[] Keys(string text) => Split(text).Select(w => w.Key).ToArray();
}
