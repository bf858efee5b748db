using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Lathe.Formats;
using Lathe.Tokenizers;

namespace Lathe.Tests.Tokenizers;

/// <summary>GgufTokenizer gives llama.cpp's ids for the vocabularies of the families people download — Llama 3
/// (llama-bpe), Qwen2.5 (qwen2), Mistral Nemo (tekken), Gemma, Phi-3 and Mistral 7B (SentencePiece) — on adversarial
/// text, with and without special-token parsing, and finds the same end-of-generation ids. The GGUFs are written by
/// scripts/gen/tokenizer_gguf.py and the reference by make_gguf_pretok_reference.mjs (node-llama-cpp 3.22.1).</summary>
public class GgufPreTokenizerTests
{
    public static readonly TheoryData<string> Families = new() { "llama-bpe", "qwen2", "tekken", "llama4", "gemma", "phi3", "mistral" };

    static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Tokenizers", "fixtures", "gguf", name);

    static JsonElement Reference(string family) =>
        JsonDocument.Parse(File.ReadAllText(Fixture("llama_cpp_pretok_reference.json"))).RootElement.GetProperty("families").GetProperty(family);

    static GgufTokenizer Read(string family)
    {
        using var file = GgufFile.Open(Fixture(family + ".gguf"));
        return GgufTokenizer.Read(file);
    }

    static int[] Ints(JsonElement array) => array.EnumerateArray().Select(e => e.GetInt32()).ToArray();

    static string Show(string text) => JsonSerializer.Serialize(text);

    // Every case of one list, each failure named with both id lists, so one run shows all the differences.
    static void AssertAllEqual(string family, string list, Func<string, List<int>> encode)
    {
        var failures = new List<string>();
        int cases = 0;
        foreach (var item in Reference(family).GetProperty(list).EnumerateArray())
        {
            string text = item.GetProperty("text").GetString()!;
            int[] expected = Ints(item.GetProperty("ids"));
            var actual = encode(text);
            if (!expected.SequenceEqual(actual))
                failures.Add($"{Show(text)}: llama.cpp [{string.Join(" ", expected)}], Lathe [{string.Join(" ", actual)}]");
            cases++;
        }
        Assert.True(cases >= 9, $"{family}/{list}: only {cases} cases");
        Assert.True(failures.Count == 0, $"{family}/{list}: {failures.Count} of {cases} differ:\n" + string.Join("\n", failures));
    }

    [Theory, MemberData(nameof(Families))]
    public void Ids_equal_llama_cpp_tokenize(string family)
    {
        var tokenizer = Read(family);
        AssertAllEqual(family, "tokenize", text => tokenizer.Encode(text));
    }

    [Theory, MemberData(nameof(Families))]
    public void Special_token_markup_parses_as_llama_cpp(string family)
    {
        var tokenizer = Read(family);
        AssertAllEqual(family, "tokenize_special", text => tokenizer.Encode(text, parseSpecial: true));
    }

    /// <summary>A chapter of Moby-Dick, a speech and an e-mail with headers (npm peers); the reference keeps each file's
    /// token count and the SHA-256 of its ids.</summary>
    [Theory, MemberData(nameof(Families))]
    public void Whole_files_tokenize_as_llama_cpp_did(string family)
    {
        var tokenizer = Read(family);
        int files = 0;
        foreach (var item in Reference(family).GetProperty("tokenize_files").EnumerateArray())
        {
            string path = Path.Combine(Lathe.Tests.Data.Peers.NodeModules, item.GetProperty("file").GetString()!);
            string text = File.ReadAllText(path);
            var ids = tokenizer.Encode(text);
            string digest = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join(",", ids))));
            Assert.True(item.GetProperty("count").GetInt32() == ids.Count && item.GetProperty("sha256").GetString() == digest,
                $"{family}: {path}: llama.cpp {item.GetProperty("count").GetInt32()} tokens, Lathe {ids.Count} (ids differ: {item.GetProperty("sha256").GetString() != digest})");
            Assert.Equal(text, tokenizer.Decode(ids));
            files++;
        }
        Assert.Equal(3, files);
    }

    /// <summary>decode(encode(x)) == x wherever llama.cpp's detokenize gives x back (it cleans spaces before
    /// punctuation for llama-bpe, and drops SentencePiece's leading space, so not everywhere).</summary>
    [Theory, MemberData(nameof(Families))]
    public void Decode_gives_the_text_back_where_llama_cpp_does(string family)
    {
        var tokenizer = Read(family);
        int checkedCases = 0;
        foreach (var item in Reference(family).GetProperty("tokenize").EnumerateArray())
        {
            string text = item.GetProperty("text").GetString()!;
            if (item.GetProperty("detokenized").GetString() != text) continue;
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
            checkedCases++;
        }
        Assert.True(checkedCases >= 20, $"{family}: llama.cpp round-trips only {checkedCases} texts");
    }

    [Theory, MemberData(nameof(Families))]
    public void Bos_eos_and_end_of_generation_ids_match_llama_cpp(string family)
    {
        var tokenizer = Read(family);
        var reference = Reference(family);
        static int OrNone(JsonElement e) => e.ValueKind == JsonValueKind.Null ? -1 : e.GetInt32();
        Assert.Equal(OrNone(reference.GetProperty("bos")), tokenizer.BosId);
        Assert.Equal(OrNone(reference.GetProperty("eos")), tokenizer.EosId);
        // With no tokenizer.ggml.eot_token_id llama.cpp takes the first end-of-turn text it meets walking its
        // unordered_map, so with several in one vocabulary (Llama 3's <|eot_id|> and <|end_of_text|>) its pick depends
        // on libstdc++'s hash order; Lathe takes the first in llama.cpp's list. Either way both are end of generation.
        int[] candidates = GgufSpecialTokens.EotTexts.Select(t => tokenizer.SpecialId(t) ?? -1).Where(id => id >= 0).ToArray();
        int eot = OrNone(reference.GetProperty("eot"));
        if (candidates.Length <= 1) Assert.Equal(eot, tokenizer.EotId);
        else
        {
            Assert.Contains(eot, candidates);
            Assert.Equal(candidates[0], tokenizer.EotId);
        }
        Assert.Equal(reference.GetProperty("add_bos").GetBoolean(), tokenizer.AddBos);
        Assert.Equal(reference.GetProperty("add_eos").GetBoolean(), tokenizer.AddEos);
        Assert.Equal(Ints(reference.GetProperty("eog")), tokenizer.EndOfGenerationIds);
        Assert.Equal(reference.GetProperty("vocab").GetInt32(), tokenizer.VocabSize);
    }

    /// <summary>The stop tokens chat and generation use are llama.cpp's end-of-generation ids, so a Llama 3 chat ends
    /// at &lt;|eot_id|&gt; (and &lt;|eom_id|&gt;, &lt;|end_of_text|&gt;), Qwen at &lt;|im_end|&gt;, Gemma at
    /// &lt;end_of_turn&gt;, Phi-3 at &lt;|end|&gt;.</summary>
    [Theory]
    [InlineData("llama-bpe", "<|eot_id|>")]
    [InlineData("llama-bpe", "<|eom_id|>")]
    [InlineData("llama-bpe", "<|end_of_text|>")]
    [InlineData("llama4", "<|eot|>")]
    [InlineData("qwen2", "<|im_end|>")]
    [InlineData("qwen2", "<|endoftext|>")]
    [InlineData("gemma", "<end_of_turn>")]
    [InlineData("gemma", "<eos>")]
    [InlineData("phi3", "<|end|>")]
    [InlineData("phi3", "<|endoftext|>")]
    [InlineData("mistral", "</s>")]
    public void End_of_turn_tokens_stop_generation(string family, string text)
    {
        var tokenizer = Read(family);
        int id = tokenizer.SpecialId(text) ?? throw new Xunit.Sdk.XunitException($"{family}: no special token {text}");
        Assert.Contains(id, tokenizer.EndOfGenerationIds);
    }

    /// <summary>Loading a GGUF model makes llama.cpp's end-of-generation ids the stop ids of chat and generation: here
    /// the SentencePiece parity model with two pieces renamed &lt;|end|&gt; and &lt;end_of_turn&gt; (found by their text,
    /// as llama.cpp does for files without tokenizer.ggml.eot_token_id).</summary>
    [Fact]
    public void Loaded_models_stop_at_every_end_of_generation_id()
    {
        using var dir = new Lathe.Tests.Data.TempDir();
        string path = dir.File("eog.gguf");
        int end, endOfTurn;
        using (var source = GgufFile.Open(Lathe.Tests.Inference.GgufParityTests.Fixture("spm-f16.gguf")))
        {
            var tokens = ((object[])source.Metadata["tokenizer.ggml.tokens"]).Cast<string>().ToArray();
            var types = ((object[])source.Metadata["tokenizer.ggml.token_type"]).Select(Convert.ToInt32).ToArray();
            (end, endOfTurn) = (tokens.Length - 2, tokens.Length - 1);
            tokens[end] = "<|end|>";
            tokens[endOfTurn] = "<end_of_turn>";
            var w = new GgufWriter();
            foreach (var (key, value) in source.Metadata)
                w.Add(key, key switch
                {
                    "tokenizer.ggml.tokens" => tokens,
                    "tokenizer.ggml.token_type" => types,
                    _ => value is object[] items ? Typed(items) : value,
                });
            foreach (var t in source.Tensors) w.AddTensor(t.Name, t.Dims, t.Type, source.Bytes(t).ToArray());
            w.Save(path);
        }
        using var loaded = Lathe.Inference.ModelLoader.Load(path);
        var tokenizer = Assert.IsType<GgufTokenizer>(loaded.Tokenizer);
        Assert.Equal(new[] { tokenizer.EosId, end, endOfTurn }, tokenizer.EndOfGenerationIds);
        Assert.Equal(end, tokenizer.EotId);   // <|end|> comes before <end_of_turn> in llama.cpp's list
        Assert.True(loaded.StopIds.SetEquals(tokenizer.EndOfGenerationIds));
        // Made control tokens (they were normal pieces): parsed only as special-token markup, and decoded to nothing.
        Assert.Equal([end], tokenizer.Encode("<|end|>", parseSpecial: true));
        Assert.NotEqual([end], tokenizer.Encode("<|end|>"));
        Assert.Equal("", tokenizer.Decode([end]));
    }

    /// <summary>Offsets are of the same tokens as <see cref="ITokenizer.Encode"/> and each covers the text it came from.</summary>
    [Theory, MemberData(nameof(Families))]
    public void Offsets_are_of_the_encoded_tokens(string family)
    {
        var tokenizer = Read(family);
        foreach (var item in Reference(family).GetProperty("tokenize_special").EnumerateArray())
        {
            string text = item.GetProperty("text").GetString()!;
            var tokens = tokenizer.EncodeWithOffsets(text, allowSpecial: true);
            Assert.Equal(((ITokenizer)tokenizer).Encode(text, allowSpecial: true), tokens.Select(t => t.Id).ToList());
            int previousStart = 0;
            foreach (var t in tokens)
            {
                Assert.True(t.Start >= previousStart && t.End >= t.Start && t.End <= text.Length,
                    $"{family}: {Show(text)}: token {t.Id} at [{t.Start},{t.End}) after one starting at {previousStart}");
                previousStart = t.Start;
            }
            // Special tokens span exactly their text.
            foreach (var t in tokens.Where(t => t.End > t.Start && tokenizer.SpecialTokens.Any(s => s.Id == t.Id)))
                Assert.Equal(tokenizer.SpecialTokens.First(s => s.Id == t.Id).Text, text[t.Start..t.End]);
        }
    }

    /// <summary>tokenizer.ggml.pre picks the split llama.cpp uses for that name; an unknown or missing name is a
    /// one-line error naming it and the file.</summary>
    [Theory]
    [InlineData("llama-bpe", typeof(Cl100kPreTokenizer))]
    [InlineData("llama3", typeof(Cl100kPreTokenizer))]
    [InlineData("dbrx", typeof(Cl100kPreTokenizer))]
    [InlineData("qwen2", typeof(Qwen2PreTokenizer))]
    [InlineData("deepseek-r1-qwen", typeof(Qwen2PreTokenizer))]
    [InlineData("tekken", typeof(CaseSplitPreTokenizer))]
    [InlineData("llama4", typeof(CaseSplitPreTokenizer))]
    [InlineData("gpt-2", typeof(Gpt2PreTokenizer))]
    [InlineData("olmo", typeof(Gpt2PreTokenizer))]
    public void The_pre_tokenizer_name_picks_the_split(string pre, Type expected)
    {
        using var dir = new Lathe.Tests.Data.TempDir();
        string path = WithPre(dir, pre);
        using var file = GgufFile.Open(path);
        var tokenizer = GgufTokenizer.Read(file);
        Assert.IsType(expected, tokenizer.Bpe!.PreTokenizer);
        Assert.Equal(pre, tokenizer.PreTokenizerName);
    }

    [Theory]
    [InlineData("deepseek-coder")]
    [InlineData("no-such-pretokenizer")]
    [InlineData(null)]
    public void An_unsupported_pre_tokenizer_is_refused_by_name(string? pre)
    {
        using var dir = new Lathe.Tests.Data.TempDir();
        string path = WithPre(dir, pre);
        using var file = GgufFile.Open(path);
        var e = Assert.Throws<InvalidDataException>(() => GgufTokenizer.Read(file));
        Assert.Contains(path, e.Message);
        Assert.Contains("tokenizer.ggml.pre", e.Message);
        Assert.Contains(pre ?? "missing", e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    /// <summary>Without tokenizer.ggml.add_bos_token, BOS follows llama.cpp's default for the pre-tokenizer: added for
    /// llama-bpe and tekken (llama_vocab::impl::load sets add_bos for them), not for qwen2 or llama4.</summary>
    [Theory]
    [InlineData("llama-bpe", true)]
    [InlineData("tekken", true)]
    [InlineData("qwen2", false)]
    [InlineData("llama4", false)]
    public void Bos_defaults_follow_the_pre_tokenizer(string family, bool addBos)
    {
        using var dir = new Lathe.Tests.Data.TempDir();
        string path = Edited(dir, family, (key, value) => key == "tokenizer.ggml.add_bos_token" ? null : value);
        using var file = GgufFile.Open(path);
        var tokenizer = GgufTokenizer.Read(file);
        Assert.Equal(addBos, tokenizer.AddBos);
        var ids = ((ITokenizer)tokenizer).Encode("Hi", allowSpecial: true);
        Assert.Equal(addBos, ids.Count > 0 && ids[0] == tokenizer.BosId);
    }

    /// <summary>A copy of the llama-bpe fixture's tokenizer keys with another (or no) tokenizer.ggml.pre.</summary>
    static string WithPre(Lathe.Tests.Data.TempDir dir, string? pre) =>
        Edited(dir, "llama-bpe", (key, value) => key == "tokenizer.ggml.pre" ? pre : value);

    /// <summary>A copy of a fixture's tokenizer keys, each passed through <paramref name="edit"/> (null drops it).</summary>
    static string Edited(Lathe.Tests.Data.TempDir dir, string family, Func<string, object, object?> edit)
    {
        string path = dir.File("edited.gguf");
        using var source = GgufFile.Open(Fixture(family + ".gguf"));
        var w = new GgufWriter();
        foreach (var (key, value) in source.Metadata)
        {
            if (!key.StartsWith("tokenizer.", StringComparison.Ordinal) || edit(key, value) is not { } edited) continue;
            w.Add(key, edited is object[] items ? Typed(items) : edited);
        }
        w.Save(path);
        return path;
    }

    static Array Typed(object[] items)
    {
        var a = Array.CreateInstance(items[0].GetType(), items.Length);
        for (int i = 0; i < items.Length; i++) a.SetValue(items[i], i);
        return a;
    }
}
