using System.Text.Json;

namespace Lathe.Tokenizers;

/// <summary>The split pattern of Qwen2 (llama.cpp's <c>tokenizer.ggml.pre = "qwen2"</c>, also StableLM 2, Hunyuan,
/// DeepSeek-R1-Qwen): cl100k's pattern with single digits, so "2024" is four pieces:
/// <c>(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+</c>.
/// The matcher is <see cref="Cl100kPreTokenizer"/>'s with a digit run of one.</summary>
public sealed class Qwen2PreTokenizer : IPreTokenizer
{
    public static readonly Qwen2PreTokenizer Instance = new();

    public const string Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    public void Split(string text, List<PreToken> output)
    {
        int i = 0;
        while (i < text.Length)
        {
            int end = Cl100kPreTokenizer.Match(text, i, 1);
            output.Add(new PreToken(i, end - i));
            i = end;
        }
    }

    public void WriteJson(Utf8JsonWriter writer) => Splitting.WriteRegexSplit(writer, Pattern);
}
