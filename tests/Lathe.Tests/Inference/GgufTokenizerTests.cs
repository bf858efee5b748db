using Lathe.Formats;

namespace Lathe.Tests.Inference;

/// <summary>The tokenizer read from tokenizer.ggml.* gives llama.cpp's tokenize() ids (recorded by
/// make_llama_cpp_reference.mjs) for a gpt2-style byte-level BPE vocabulary and a SentencePiece one.</summary>
public class GgufTokenizerTests
{
    [Theory]
    [InlineData("gpt2vocab-f32", "gpt2")]
    [InlineData("spm-f16", "llama")]
    public void Ids_equal_llama_cpp_tokenize(string name, string kind)
    {
        using var file = GgufFile.Open(GgufParityTests.Fixture(name + ".gguf"));
        var tokenizer = GgufTokenizer.Read(file);
        Assert.Equal(kind, tokenizer.ModelName);
        int cases = 0;
        foreach (var item in GgufParityTests.Reference(name).GetProperty("tokenize").EnumerateArray())
        {
            string text = item.GetProperty("text").GetString()!;
            int[] expected = item.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.True(expected.SequenceEqual(tokenizer.Encode(text)), $"{name}: '{text}': expected [{string.Join(" ", expected)}], got [{string.Join(" ", tokenizer.Encode(text))}]");
            Assert.Equal(text, tokenizer.Decode(expected));
            cases++;
        }
        Assert.True(cases >= 10);
    }

    /// <summary>Whole files (a novel chapter, a speech, an e-mail with headers) from the npm peers.</summary>
    [Theory]
    [InlineData("gpt2vocab-f32")]
    [InlineData("spm-f16")]
    public void Whole_files_tokenize_as_llama_cpp_did(string name)
    {
        using var file = GgufFile.Open(GgufParityTests.Fixture(name + ".gguf"));
        var tokenizer = GgufTokenizer.Read(file);
        int files = 0;
        foreach (var item in GgufParityTests.Reference(name).GetProperty("tokenize_files").EnumerateArray())
        {
            string path = Path.Combine(Lathe.Tests.Data.Peers.NodeModules, item.GetProperty("file").GetString()!);
            string text = File.ReadAllText(path);
            int[] expected = item.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var actual = tokenizer.Encode(text);
            int at = 0;
            while (at < Math.Min(expected.Length, actual.Count) && expected[at] == actual[at]) at++;
            Assert.True(at == expected.Length && at == actual.Count, $"{name}: {path}: first difference at token {at} of {expected.Length}");
            Assert.Equal(text, tokenizer.Decode(expected));
            files++;
        }
        Assert.Equal(3, files);
    }

    [Fact]
    public void The_prompt_tokenizes_as_llama_cpp_did()
    {
        foreach (string name in new[] { "gpt2vocab-f32", "spm-f16" })
        {
            var reference = GgufParityTests.Reference(name);
            using var file = GgufFile.Open(GgufParityTests.Fixture(name + ".gguf"));
            var tokenizer = GgufTokenizer.Read(file);
            int[] expected = reference.GetProperty("prompt").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            string prompt = System.Text.Json.JsonDocument.Parse(File.ReadAllText(GgufParityTests.Fixture("llama_cpp_reference.json")))
                .RootElement.GetProperty("prompt_text").GetString()!;
            Assert.Equal(expected, tokenizer.Encode(prompt));
        }
    }

    /// <summary>Special-token markup parsed as llama.cpp's tokenize(text, parse_special = true) does (chat templates).</summary>
    [Theory]
    [InlineData("gpt2vocab-f32")]
    [InlineData("spm-f16")]
    public void Special_tokens_in_text_are_parsed_as_llama_cpp_does(string name)
    {
        using var file = GgufFile.Open(GgufParityTests.Fixture(name + ".gguf"));
        var tokenizer = GgufTokenizer.Read(file);
        foreach (var item in GgufParityTests.Reference(name).GetProperty("tokenize_special").EnumerateArray())
        {
            string text = item.GetProperty("text").GetString()!;
            int[] expected = item.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var actual = tokenizer.Encode(text, parseSpecial: true);
            Assert.True(expected.SequenceEqual(actual), $"{name}: '{text}': expected [{string.Join(" ", expected)}], got [{string.Join(" ", actual)}]");
        }
    }

    [Fact]
    public void Chat_template_eot_and_special_ids_are_exposed()
    {
        using var dir = new Lathe.Tests.Data.TempDir();
        string path = dir.File("t.gguf");
        using (var source = GgufFile.Open(GgufParityTests.Fixture("spm-f16.gguf")))
        {
            var w = new GgufWriter();
            foreach (var (key, value) in source.Metadata)
                if (key.StartsWith("tokenizer.", StringComparison.Ordinal))
                    w.Add(key, value is object[] items ? Typed(items) : value);
            w.Add("tokenizer.chat_template", "{% for m in messages %}<s>{{ m.content }}</s>{% endfor %}");
            w.Add("tokenizer.ggml.eot_token_id", 2u);
            w.Save(path);
        }
        using var file = GgufFile.Open(path);
        var tokenizer = GgufTokenizer.Read(file);
        Assert.Equal("{% for m in messages %}<s>{{ m.content }}</s>{% endfor %}", tokenizer.ChatTemplate);
        Assert.Equal(2, tokenizer.EotId);
        Assert.Equal(1, tokenizer.SpecialId("<s>"));
        Assert.Null(tokenizer.SpecialId("<0x41>"));
    }

    static Array Typed(object[] items)
    {
        var a = Array.CreateInstance(items[0].GetType(), items.Length);
        for (int i = 0; i < items.Length; i++) a.SetValue(items[i], i);
        return a;
    }

    [Fact]
    public void Spm_special_flags_and_byte_fallback_are_read()
    {
        using var file = GgufFile.Open(GgufParityTests.Fixture("spm-f16.gguf"));
        var tokenizer = GgufTokenizer.Read(file);
        var spm = tokenizer.SentencePiece!;
        Assert.Equal((0, 1, 2, true), (spm.UnknownId, spm.BosId, spm.EosId, spm.AddBos));
        Assert.Equal(1, tokenizer.Encode("x", addSpecial: true)[0]);
        // A character outside the vocabulary falls back to its UTF-8 bytes, which decode back to it.
        var ids = tokenizer.Encode("🐳");
        Assert.Contains(ids, id => spm.Pieces[id] == "<0xF0>");
        Assert.Equal("🐳", tokenizer.Decode(ids));
    }
}
