namespace Lathe.Tokenizers;

/// <summary>A trained Unigram model as a complete SentencePiece-style tokenizer: the special tokens as added tokens,
/// no normalizer, a Metaspace pre-tokenizer (▁, prepend always, split) and decoder (ByteFallback first when the model
/// falls back to bytes, as HF's Llama decoder does), the Unigram model; saved as a Hugging Face tokenizer.json.</summary>
public static class UnigramTokenizerJson
{
    /// <summary>The pipeline tokenizer for <paramref name="model"/> with those of <paramref name="specialTokens"/>
    /// the vocabulary holds.</summary>
    public static PipelineTokenizer Build(UnigramModel model, IReadOnlyList<string> specialTokens)
    {
        var specials = new List<(string, int)>();
        foreach (string special in specialTokens)
            if (model.TryTokenToId(special, out int id)) specials.Add((special, id));
        ChainDecoder decoder = model.ByteFallback ? new SequenceDecoder([new ByteFallbackDecoder(), new MetaspaceDecoder()]) : new MetaspaceDecoder();
        return new PipelineTokenizer(null, new MetaspacePreTokenizer(), model, null, decoder, specials);
    }

    /// <summary>Writes <see cref="Build"/>'s tokenizer to <paramref name="path"/>.</summary>
    public static void Save(UnigramModel model, IReadOnlyList<string> specialTokens, string path) => Build(model, specialTokens).Save(path);
}
