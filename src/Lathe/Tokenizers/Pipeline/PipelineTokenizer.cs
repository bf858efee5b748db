using System.Text;

namespace Lathe.Tokenizers;

/// <summary>A tokenizer in the manner of Hugging Face tokenizers: added tokens are matched on the raw text first;
/// each stretch between them is normalized (with a map back to the original chars), rewritten and split by the
/// pre-tokenizer, and each piece is tokenized by the model (WordPiece, Unigram, …); the post-processor lays the
/// tokens into its template; the decoder turns token strings back into text. Offsets are in the original text.</summary>
public sealed class PipelineTokenizer : ITokenizer
{
    readonly (string Text, int Id)[] _specials;   // longest first
    readonly HashSet<int> _specialIds;

    public INormalizer? Normalizer { get; }
    public IPreTokenizer PreTokenizer { get; }
    public ITokenizerModel Model { get; }
    public TemplateProcessor? PostProcessor { get; }
    public IDecoder? Decoder { get; }
    public IReadOnlyList<(string Text, int Id)> SpecialTokens => _specials;
    public int VocabSize { get; }
    /// <summary>The document separator for token shards: [SEP], &lt;/s&gt; or &lt;|endoftext|&gt; when present, else -1.</summary>
    public int EndOfTextId { get; }

    public PipelineTokenizer(INormalizer? normalizer, IPreTokenizer preTokenizer, ITokenizerModel model, TemplateProcessor? postProcessor,
        IDecoder? decoder, IEnumerable<(string Text, int Id)> specialTokens)
    {
        Normalizer = normalizer;
        PreTokenizer = preTokenizer;
        Model = model;
        PostProcessor = postProcessor;
        Decoder = decoder;
        _specials = specialTokens.OrderByDescending(s => s.Text.Length).ThenBy(s => s.Id).ToArray();
        _specialIds = [.. _specials.Select(s => s.Id)];
        VocabSize = Math.Max(model.VocabSize, _specials.Length == 0 ? 0 : _specials.Max(s => s.Id) + 1);
        EndOfTextId = -1;
        foreach (string eot in new[] { "[SEP]", "</s>", "<|endoftext|>" })
            if (_specials.FirstOrDefault(s => s.Text == eot) is { Text: not null } hit) { EndOfTextId = hit.Id; break; }
    }

    /// <summary>Tokens of one input with its template applied (when <paramref name="addSpecialTokens"/>), their
    /// type ids, and spans in <paramref name="text"/>.</summary>
    public (List<Token> Tokens, List<int> TypeIds) EncodeFull(string text, string? pair = null, bool addSpecialTokens = true, bool allowSpecial = true)
    {
        var a = Tokenize(text, allowSpecial);
        var b = pair is null ? null : Tokenize(pair, allowSpecial);
        var tokens = new List<Token>(a.Count + (b?.Count ?? 0) + 4);
        var types = new List<int>(tokens.Capacity);
        if (addSpecialTokens && PostProcessor is not null) PostProcessor.Apply(a, b, tokens, types);
        else
        {
            tokens.AddRange(a); types.AddRange(Enumerable.Repeat(0, a.Count));
            if (b is not null) { tokens.AddRange(b); types.AddRange(Enumerable.Repeat(1, b.Count)); }
        }
        return (tokens, types);
    }

    public List<int> Encode(string text, bool allowSpecial = true) => EncodeFull(text, allowSpecial: allowSpecial).Tokens.ConvertAll(t => t.Id);

    public List<Token> EncodeWithOffsets(string text, bool allowSpecial = true) => EncodeFull(text, allowSpecial: allowSpecial).Tokens;

    /// <summary>For token shards: the model's ids of the text, without the template's special tokens.</summary>
    public void Encode(string text, List<int> ids)
    {
        foreach (var t in Tokenize(text, allowSpecial: true)) ids.Add(t.Id);
    }

    // Added tokens split the text; everything between them goes through the pipeline.
    List<Token> Tokenize(string text, bool allowSpecial)
    {
        var output = new List<Token>();
        var pieces = new List<PreToken>();
        int start = 0, section = 0;
        while (true)
        {
            int at = -1, which = -1;
            if (allowSpecial)
                for (int s = 0; s < _specials.Length; s++)
                {
                    int i = text.IndexOf(_specials[s].Text, start, StringComparison.Ordinal);
                    if (i >= 0 && (at < 0 || i < at)) { at = i; which = s; }
                }
            int end = at >= 0 ? at : text.Length;
            if (end > start) TokenizeSection(text, start, end, section++ == 0, pieces, output);
            if (at < 0) break;
            output.Add(new Token(_specials[which].Id, at, at + _specials[which].Text.Length));
            start = at + _specials[which].Text.Length;
        }
        return output;
    }

    void TokenizeSection(string text, int start, int end, bool first, List<PreToken> pieces, List<Token> output)
    {
        var normalized = NormalizedText.Identity(text.Substring(start, end - start));
        if (Normalizer is not null) normalized = Normalizer.Normalize(normalized);
        if (PreTokenizer is IRewritingPreTokenizer rewriting) normalized = rewriting.Rewrite(normalized, first);
        pieces.Clear();
        PreTokenizer.Split(normalized.Text, pieces);
        int from = output.Count;
        foreach (var piece in pieces) Model.Tokenize(normalized.Text, piece, output);
        for (int i = from; i < output.Count; i++)
        {
            var t = output[i];
            int s = normalized.ToOriginalStart(t.Start), e = Math.Max(s, normalized.ToOriginalEnd(t.End));
            output[i] = new Token(t.Id, start + s, start + e);
        }
    }

    /// <summary>The token strings of some ids (added tokens by their text).</summary>
    public List<string> IdsToTokens(IEnumerable<int> ids, bool skipSpecial)
    {
        var tokens = new List<string>();
        foreach (int id in ids)
        {
            if (_specialIds.Contains(id))
            {
                if (!skipSpecial) tokens.Add(_specials.First(s => s.Id == id).Text);
                continue;
            }
            tokens.Add(Model.IdToToken(id) ?? throw new ArgumentException($"token id {id} is outside the vocabulary of {VocabSize}."));
        }
        return tokens;
    }

    /// <summary>The text of some ids, special tokens skipped (as Hugging Face decodes by default).</summary>
    public string Decode(IEnumerable<int> ids) => Decode(ids, skipSpecial: true);

    public string Decode(IEnumerable<int> ids, bool skipSpecial)
    {
        var tokens = IdsToTokens(ids, skipSpecial);
        return Decoder is null ? string.Join(" ", tokens) : Decoder.Decode(tokens);
    }

    public byte[] DecodeBytes(IEnumerable<int> ids) => Encoding.UTF8.GetBytes(Decode(ids, skipSpecial: false));

    public void Save(string path) => TokenizerJson.Save(this, path);
}
