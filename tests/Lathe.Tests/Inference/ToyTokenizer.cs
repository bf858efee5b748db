using Lathe.Tokenizers;

namespace Lathe.Tests.Inference;

/// <summary>A tokenizer for tests of the inference plumbing: <paramref name="encode"/> turns text into ids and
/// <paramref name="tokenBytes"/> gives a token's bytes; there are no special tokens.</summary>
sealed class ToyTokenizer(int vocabSize, Func<string, int[]> encode, Func<int, byte[]> tokenBytes) : ITokenizer
{
    /// <summary>Each token is one byte: id b stands for byte b (256 ids).</summary>
    public static ToyTokenizer Bytes { get; } = new(256, s => System.Text.Encoding.UTF8.GetBytes(s).Select(b => (int)b).ToArray(), id => [(byte)id]);

    public int VocabSize => vocabSize;
    public int EndOfTextId => -1;
    public IReadOnlyList<(string Text, int Id)> SpecialTokens => [];
    public void Encode(string text, List<int> ids) => ids.AddRange(encode(text));
    public List<int> Encode(string text, bool allowSpecial = true) => [.. encode(text)];
    public List<Token> EncodeWithOffsets(string text, bool allowSpecial = true) => throw new NotSupportedException("toy tokenizer");
    public byte[] DecodeBytes(IEnumerable<int> ids) => ids.SelectMany(tokenBytes).ToArray();
    public string Decode(IEnumerable<int> ids) => System.Text.Encoding.UTF8.GetString(DecodeBytes(ids));
    public void Save(string path) => throw new NotSupportedException("toy tokenizer");
}
