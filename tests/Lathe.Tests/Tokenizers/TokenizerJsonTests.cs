using System.Text;
using Lathe.Formats;
using Lathe.IO;
using Lathe.Tokenizers;

namespace Lathe.Tests.Tokenizers;

public sealed class TokenizerJsonTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("lathe-tok-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    const string Sample = "Call me Ishmael. Some years ago—never mind how long precisely—<|endoftext|> 🐋 naïve café 1234";

    [Fact]
    public void A_trained_tokenizer_round_trips_exactly()
    {
        var trained = new BpeTrainer(400).Train([string.Concat(Enumerable.Repeat(Sample + "\n", 50))]);
        string path = Path.Combine(_dir, "t.json");
        TokenizerJson.Save(trained, path);
        var loaded = TokenizerJson.Load(path);
        Assert.Equal(trained.VocabSize, loaded.VocabSize);
        Assert.Equal(trained.EndOfTextId, loaded.EndOfTextId);
        Assert.Equal(trained.Model.Merges, loaded.Model.Merges);
        Assert.Equal(trained.Encode(Sample), loaded.Encode(Sample));
        // Saving again writes the same bytes.
        string again = Path.Combine(_dir, "t2.json");
        TokenizerJson.Save(loaded, again);
        Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(again));
    }

    [Fact]
    public void GPT2_through_tokenizer_json_encodes_identically()
    {
        var gpt2 = Gpt2Vocabulary.FromNodeModules(NodeModules.Find());
        string path = Path.Combine(_dir, "gpt2.json");
        TokenizerJson.Save(gpt2, path);
        var loaded = TokenizerJson.Load(path);
        Assert.Equal(50257, loaded.VocabSize);
        Assert.Equal(50256, loaded.EndOfTextId);
        Assert.Equal(gpt2.Encode(Sample), loaded.Encode(Sample));
    }

    [Fact]
    public void Invalid_utf8_is_encoded_as_bytes_and_decodes_back_exactly()
    {
        var gpt2 = Gpt2Vocabulary.FromNodeModules(NodeModules.Find());
        byte[] bytes = [.. Encoding.UTF8.GetBytes("ok "), 0xFF, 0xC3, (byte)'x', .. Encoding.UTF8.GetBytes(" é"), 0xE2, 0x82];
        var ids = new List<int>();
        int invalid = gpt2.EncodeBytes(bytes, ids);
        Assert.Equal(4, invalid);
        Assert.Equal(bytes, gpt2.DecodeBytes(ids));
    }

    [Theory]
    [InlineData("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{}}}", "model.type 'WordPiece' is not supported")]
    [InlineData("{\"model\":{\"type\":\"BPE\",\"merges\":[]}}", "field 'model.vocab' is missing")]
    [InlineData("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":\"x\"},\"merges\":[]}}", "model.vocab['a'] is not a non-negative integer id")]
    [InlineData("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":1},\"merges\":[]}}", "model.vocab has no token with id 0")]
    [InlineData("{\"model\"", "not valid JSON")]
    public void Malformed_files_name_the_file_and_the_field(string json, string message)
    {
        string path = Path.Combine(_dir, "bad.json");
        File.WriteAllText(path, json);
        var e = Assert.Throws<InvalidDataException>(() => TokenizerJson.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void A_merge_of_unknown_tokens_is_named()
    {
        var trained = new BpeTrainer(300).Train(["aaa bbb aaa bbb"]);
        string path = Path.Combine(_dir, "t.json");
        TokenizerJson.Save(trained, path);
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"merges\": [", "\"merges\": [\n    \"zz qq\","));
        var e = Assert.Throws<InvalidDataException>(() => TokenizerJson.Load(path));
        Assert.Contains("model.merges[0]", e.Message);
    }
}
