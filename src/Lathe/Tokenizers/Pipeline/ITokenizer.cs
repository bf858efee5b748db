namespace Lathe.Tokenizers;

/// <summary>What the command line and the inference code need of any tokenizer, whichever pipeline it is:
/// byte-level BPE (<see cref="Tokenizer"/>) or a normalizer → pre-tokenizer → model → post-processor → decoder
/// pipeline (<see cref="PipelineTokenizer"/>).</summary>
public interface ITokenizer : ITextEncoder
{
    /// <summary>The ids of <paramref name="text"/> as the tokenizer encodes a single input (a pipeline tokenizer adds
    /// its template's special tokens); added tokens in the text are matched when <paramref name="allowSpecial"/>.</summary>
    List<int> Encode(string text, bool allowSpecial = true);
    /// <summary>Tokens with [Start, End) char spans in <paramref name="text"/>.</summary>
    List<Token> EncodeWithOffsets(string text, bool allowSpecial = true);
    /// <summary>The text of some ids.</summary>
    string Decode(IEnumerable<int> ids);
    /// <summary>The UTF-8 bytes of some ids (byte-level tokenizers give back any bytes exactly).</summary>
    byte[] DecodeBytes(IEnumerable<int> ids);
    /// <summary>Added (special) tokens, matched before the model and never split.</summary>
    IReadOnlyList<(string Text, int Id)> SpecialTokens { get; }
    /// <summary>Writes this tokenizer as a Hugging Face tokenizer.json.</summary>
    void Save(string path);
}
