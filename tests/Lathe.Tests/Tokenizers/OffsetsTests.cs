using System.Text.Json;
using Lathe.IO;
using Lathe.Tokenizers;

namespace Lathe.Tests.Tokenizers;

/// <summary>Token offsets against Hugging Face tokenizers (fixtures/make-offsets-fixtures.mjs).</summary>
public class OffsetsTests
{
    [Fact]
    public void Offsets_match_Hugging_Face_tokenizers()
    {
        var gpt2 = Gpt2Vocabulary.FromNodeModules(NodeModules.Find());
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Tokenizers", "fixtures", "offsets-fixtures.json")));
        foreach (var item in doc.RootElement.EnumerateArray())
        {
            string text = item.GetProperty("text").GetString()!;
            // HF counts code points; map code-point indices to UTF-16 indices.
            var utf16 = new List<int>();
            for (int i = 0; i < text.Length; i++) { utf16.Add(i); if (char.IsHighSurrogate(text[i])) i++; }
            utf16.Add(text.Length);
            var expected = item.GetProperty("offsets").EnumerateArray()
                .Select(o => (utf16[o[0].GetInt32()], utf16[o[1].GetInt32()])).ToArray();
            int[] ids = item.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var tokens = gpt2.EncodeWithOffsets(text);
            Assert.Equal(ids, tokens.Select(t => t.Id).ToArray());
            Assert.Equal(expected, tokens.Select(t => (t.Start, t.End)).ToArray());
        }
    }

    [Fact]
    public void Special_tokens_span_their_text()
    {
        var gpt2 = Gpt2Vocabulary.FromNodeModules(NodeModules.Find());
        var tokens = gpt2.EncodeWithOffsets("a<|endoftext|>b");
        Assert.Equal([(64, 0, 1), (50256, 1, 14), (65, 14, 15)], tokens.Select(t => (t.Id, t.Start, t.End)).ToArray());
    }
}
