using System.Text.Json;
using System.Text.Json.Nodes;
using Lathe.Formats;
using Lathe.Tokenizers;

namespace Lathe.Tests.Tokenizers;

/// <summary>Pipeline tokenizers (normalizers, pre-tokenizers, WordPiece, post-processors, decoders) against Hugging Face
/// tokenizers (fixtures/make-pipeline-fixtures.mjs): a tokenizer.json HF saved loads here and encodes id for id, type id
/// for type id and offset for offset, decodes to the same text, and saves back to the same stages HF wrote.</summary>
public class PipelineCompatibilityTests
{
    static readonly JsonElement Fixture =
        JsonDocument.Parse(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Tokenizers", "fixtures", "pipeline-fixtures.json"))).RootElement;

    public static TheoryData<string> Pipelines => new() { "bert", "nfd-strip-digits", "nfc-punctuation", "unigram-metaspace-bytefallback" };

    static JsonElement Pipeline(string name) => Fixture.GetProperty("pipelines").EnumerateArray().First(p => p.GetProperty("name").GetString() == name);

    static (PipelineTokenizer Tokenizer, string Path) Load(string name)
    {
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"lathe-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, Pipeline(name).GetProperty("tokenizer").GetRawText());
        return ((PipelineTokenizer)TokenizerJson.LoadAny(path), path);
    }

    [Theory]
    [MemberData(nameof(Pipelines))]
    public void Encodes_and_decodes_like_Hugging_Face(string name)
    {
        var (tokenizer, path) = Load(name);
        File.Delete(path);
        foreach (var c in Pipeline(name).GetProperty("cases").EnumerateArray())
        {
            string text = c.GetProperty("text").GetString()!;
            string? pair = c.GetProperty("pair").ValueKind == JsonValueKind.String ? c.GetProperty("pair").GetString() : null;
            var (tokens, types) = tokenizer.EncodeFull(text, pair);
            string what = $"{name}: {JsonSerializer.Serialize(text)}{(pair is null ? "" : " + " + JsonSerializer.Serialize(pair))}";
            Assert.True(c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).SequenceEqual(tokens.Select(t => t.Id)),
                $"{what}: ids {string.Join(" ", tokens.Select(t => t.Id))}");
            Assert.True(c.GetProperty("typeIds").EnumerateArray().Select(e => e.GetInt32()).SequenceEqual(types), $"{what}: type ids");
            // HF gives each sequence's offsets in its own text, counted in code points; ours are UTF-16 indices.
            var offsets = c.GetProperty("offsets").EnumerateArray().Select(o => (o[0].GetInt32(), o[1].GetInt32())).ToArray();
            var ours = tokens.Select((t, i) => (CodePoints(types[i] == 0 ? text : pair!, t.Start), CodePoints(types[i] == 0 ? text : pair!, t.End))).ToArray();
            Assert.True(offsets.SequenceEqual(ours), $"{what}: offsets {string.Join(" ", ours.Select(t => $"[{t.Item1},{t.Item2})"))}");
            Assert.Equal(c.GetProperty("decoded").GetString(), tokenizer.Decode(tokens.Select(t => t.Id)));
        }
    }

    static int CodePoints(string s, int utf16)
    {
        int n = 0;
        for (int i = 0; i < utf16; i++) if (!char.IsLowSurrogate(s[i])) n++;
        return n;
    }

    [Theory]
    [MemberData(nameof(Pipelines))]
    public void Saves_the_stages_Hugging_Face_wrote(string name)
    {
        var (tokenizer, path) = Load(name);
        try
        {
            tokenizer.Save(path);
            var ours = JsonNode.Parse(File.ReadAllText(path))!;
            var theirs = JsonNode.Parse(Pipeline(name).GetProperty("tokenizer").GetRawText())!;
            foreach (string stage in new[] { "normalizer", "pre_tokenizer", "post_processor", "decoder", "model", "added_tokens" })
                Assert.True(JsonNode.DeepEquals(theirs[stage], ours[stage]), $"{name}: {stage}: ours {ours[stage]?.ToJsonString()} vs HF {theirs[stage]?.ToJsonString()}");
            var again = (PipelineTokenizer)TokenizerJson.LoadAny(path);
            Assert.Equal(tokenizer.Encode("The whale's naïve café, 1234!"), again.Encode("The whale's naïve café, 1234!"));
        }
        finally { File.Delete(path); }
    }
}

/// <summary>Malformed pipeline tokenizer.json files give one-line errors naming the file and the field.</summary>
public class PipelineTokenizerJsonErrorTests
{
    static string Bert => JsonDocument.Parse(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Tokenizers", "fixtures", "pipeline-fixtures.json")))
        .RootElement.GetProperty("pipelines")[0].GetProperty("tokenizer").GetRawText();

    [Theory]
    [InlineData("\"type\":\"BertNormalizer\"", "\"type\":\"Precompiled\"", "normalizer.type: 'Precompiled'")]
    [InlineData("\"type\":\"BertPreTokenizer\"", "\"type\":\"Split\"", "pre_tokenizer.type: 'Split'")]
    [InlineData("\"type\":\"WordPiece\",\"prefix\"", "\"type\":\"CTC\",\"prefix\"", "decoder.type: 'CTC'")]
    [InlineData("\"unk_token\":\"[UNK]\"", "\"unk_token\":\"<nope>\"", "'<nope>'")]
    [InlineData("{\"SpecialToken\":{\"id\":\"[CLS]\"", "{\"SpecialToken\":{\"id\":\"[CLX]\"", "special token '[CLX]'")]
    public void Bad_stages_name_the_field(string find, string replace, string expected)
    {
        string json = JsonNode.Parse(Bert)!.ToJsonString();
        Assert.Contains(find, json);
        string path = Path.Combine(Path.GetTempPath(), $"lathe-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json.Replace(find, replace));
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => TokenizerJson.LoadAny(path));
            Assert.Contains(path, e.Message);
            Assert.Contains(expected, e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
        finally { File.Delete(path); }
    }
}
