using Lathe.IO;
using Lathe.Tokenizers;

namespace Lathe.Tests.Tokenizers;

/// <summary>cl100k_base (tiktoken's ranks from its npm package, our hand-written split pattern) id for id against
/// tiktoken itself (fixtures/make-tiktoken-fixtures.mjs).</summary>
public class Cl100kCompatibilityTests
{
    static readonly Lazy<Tokenizer> Cl100k = new(() => TiktokenRanks.Cl100kFromNodeModules(NodeModules.Find()));
    [Fact]
    public void Adversarial_text_matches_tiktoken() => TiktokenFixture.CheckAdversarial("cl100k-fixtures.json", Cl100k.Value);

    [Fact]
    public void Moby_Dick_matches_tiktoken_id_for_id() => TiktokenFixture.CheckMobyDick("cl100k-fixtures.json", Cl100k.Value);

    [Fact]
    public void A_standard_tiktoken_rank_file_loads_to_the_same_encoding()
    {
        // Write the package's ranks in the standard .tiktoken layout ("base64 rank" per line) and load that.
        var model = Cl100k.Value.Model;
        string path = Path.Combine(Path.GetTempPath(), $"lathe-{Guid.NewGuid():N}-cl100k_base.tiktoken");
        try
        {
            File.WriteAllLines(path, Enumerable.Range(0, model.VocabSize).Select(r => $"{Convert.ToBase64String(model.TokenBytes(r))} {r}"));
            var fromFile = TiktokenRanks.LoadTiktokenFile(path, Cl100kPreTokenizer.Instance, [("<|endoftext|>", 100257)]);
            string text = "Hello, world! 1234567 naïve 😀 it's\n\n  done";
            Assert.Equal(Cl100k.Value.Encode(text), fromFile.Encode(text));
            File.AppendAllText(path, "not-base64!! x\n");
            var e = Assert.Throws<InvalidDataException>(() => TiktokenRanks.LoadTiktokenFile(path, Cl100kPreTokenizer.Instance, []));
            Assert.Contains($"line {model.VocabSize + 1}", e.Message);
        }
        finally { File.Delete(path); }
    }
}

/// <summary>Encoding a long input in pieces (for progress) gives exactly the ids of encoding it whole.</summary>
public class ChunkedEncodingTests
{
    [Theory]
    [InlineData("gpt2")]
    [InlineData("cl100k_base")]
    [InlineData("o200k_base")]
    public void Chunked_encoding_equals_whole_encoding(string name)
    {
        var tokenizer = name switch
        {
            "gpt2" => Gpt2Vocabulary.FromNodeModules(NodeModules.Find()),
            "cl100k_base" => TiktokenRanks.Cl100kFromNodeModules(NodeModules.Find()),
            _ => TiktokenRanks.O200kFromNodeModules(NodeModules.Find()),
        };
        // Chapters joined with blank lines, odd line endings and a special token: many candidate cut points.
        string text = TiktokenFixture.MobyDick()[..300_000] + "\r\nend\n\n  x\nY<|endoftext|>\nZ";
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(text);
        var whole = new List<int>();
        tokenizer.EncodeBytes(bytes, whole);
        foreach (int chunk in new[] { 1, 7, 1000, 65536 })
        {
            var pieces = new List<int>();
            tokenizer.EncodeBytesInChunks(bytes, pieces, chunk);
            Assert.True(whole.SequenceEqual(pieces), $"{name}: chunks of {chunk} bytes differ");
        }
    }
}
