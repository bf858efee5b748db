namespace Lathe.Tokenizers;

/// <summary>Adds special (added) tokens to a tokenizer, as Hugging Face's <c>add_special_tokens</c> does: a text the
/// tokenizer already has as a special token keeps its id; each missing one gets the next id above the vocabulary,
/// in the order given. The result is a new tokenizer (the input is unchanged) whose tokenizer.json carries them.</summary>
public static class AddedTokens
{
    /// <summary>The tokenizer with <paramref name="texts"/> as special tokens (see the class remarks).</summary>
    public static ITokenizer WithSpecialTokens(this ITokenizer tokenizer, IEnumerable<string> texts)
    {
        var specials = new List<(string Text, int Id)>(tokenizer.SpecialTokens);
        var known = new HashSet<string>(specials.Select(s => s.Text), StringComparer.Ordinal);
        int next = tokenizer.VocabSize;
        bool added = false;
        foreach (var text in texts)
        {
            if (string.IsNullOrEmpty(text)) throw new ArgumentException("tokenizer: a special token cannot be empty");
            if (!known.Add(text)) continue;
            specials.Add((text, next++));
            added = true;
        }
        if (!added) return tokenizer;
        return tokenizer switch
        {
            Tokenizer t => new Tokenizer(t.Model, t.PreTokenizer, specials,
                t.EndOfTextId < 0 ? null : specials.First(s => s.Id == t.EndOfTextId).Text),
            PipelineTokenizer p => new PipelineTokenizer(p.Normalizer, p.PreTokenizer, p.Model, p.PostProcessor, p.Decoder, specials),
            _ => throw new NotSupportedException($"tokenizer: cannot add special tokens to a {tokenizer.GetType().Name}"),
        };
    }

    /// <summary>The id of special token <paramref name="text"/>, or -1.</summary>
    public static int SpecialId(this ITokenizer tokenizer, string text)
    {
        foreach (var (t, id) in tokenizer.SpecialTokens)
            if (t == text) return id;
        return -1;
    }
}
