using System.Security.Cryptography;
using System.Text.Json;
using Lathe.IO;
using Lathe.Tokenizers;

namespace Lathe.Tests.Tokenizers;

/// <summary>cl100k_base (tiktoken's ranks from its npm package, our hand-written split pattern) id for id against
/// tiktoken itself (fixtures/make-cl100k-fixtures.mjs).</summary>
public class Cl100kCompatibilityTests
{
    static readonly Lazy<Tokenizer> Cl100k = new(() => TiktokenRanks.Cl100kFromNodeModules(NodeModules.Find()));
    static readonly JsonDocument Fixtures = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Tokenizers", "fixtures", "cl100k-fixtures.json")));

    public static IEnumerable<object[]> Adversarial() =>
        Enumerable.Range(0, Fixtures.RootElement.GetProperty("adversarial").GetArrayLength()).Select(i => new object[] { i });

    [Theory]
    [MemberData(nameof(Adversarial))]
    public void Adversarial_text_matches_tiktoken(int index)
    {
        var item = Fixtures.RootElement.GetProperty("adversarial")[index];
        string text = item.GetProperty("text").GetString()!;
        int[] expected = item.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(expected, Cl100k.Value.Encode(text).ToArray());
        Assert.Equal(text, Cl100k.Value.Decode(expected));
    }

    [Fact]
    public void Moby_Dick_matches_tiktoken_id_for_id()
    {
        var moby = Fixtures.RootElement.GetProperty("mobyDick");
        string dir = Path.Combine(NodeModules.Find(), "@stdlib", "datasets", "moby-dick", "data");
        string text = string.Concat(Directory.GetFiles(dir, "chapter_*.txt")
            .OrderBy(f => int.Parse(Path.GetFileNameWithoutExtension(f)["chapter_".Length..])).Select(File.ReadAllText));
        var ids = Cl100k.Value.Encode(text);
        int[] first = moby.GetProperty("first").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(first, ids.Take(first.Length).ToArray());
        Assert.Equal(moby.GetProperty("count").GetInt32(), ids.Count);
        var bytes = new byte[ids.Count * 4];
        for (int i = 0; i < ids.Count; i++) BitConverter.TryWriteBytes(bytes.AsSpan(i * 4), ids[i]);
        Assert.Equal(moby.GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(bytes)));
    }

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
