using System.Text;
using Lathe.Tokenizers;

namespace Lathe.Server.OpenAi;

/// <summary>Each token's text and UTF-8 bytes as log-probability entries report them, computed once per token id and
/// kept, so reporting log-probabilities allocates nothing per step after warm-up. A token whose bytes are not whole
/// UTF-8 (part of a character split across tokens) is written as <c>bytes:\xe2\x80</c>, as OpenAI writes such tokens;
/// <see cref="Bytes"/> always holds the exact bytes.</summary>
internal sealed class TokenText(ITokenizer tokenizer, int vocabSize)
{
    readonly string?[] _text = new string?[vocabSize];
    readonly byte[]?[] _bytes = new byte[]?[vocabSize];
    readonly int[] _one = new int[1];

    public string Text(int id)
    {
        if (_text[id] is { } cached) return cached;
        byte[] bytes = Bytes(id);
        string text = System.Text.Unicode.Utf8.IsValid(bytes) ? Encoding.UTF8.GetString(bytes) : Escaped(bytes);
        _text[id] = text;   // a race writes the same string twice, harmlessly
        return text;
    }

    public byte[] Bytes(int id)
    {
        if (_bytes[id] is { } cached) return cached;
        byte[] bytes;
        lock (_one)
        {
            _one[0] = id;
            bytes = tokenizer.DecodeBytes(_one);
        }
        _bytes[id] = bytes;
        return bytes;
    }

    static string Escaped(byte[] bytes)
    {
        var s = new StringBuilder("bytes:", 6 + 4 * bytes.Length);
        foreach (byte b in bytes) s.Append("\\x").Append(b.ToString("x2"));
        return s.ToString();
    }
}
