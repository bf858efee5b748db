using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Lathe.IO;
using Lathe.Tokenizers;

namespace Lathe.Tests.Tokenizers;

/// <summary>GPT-2 encoding id for id against tiktoken (fixtures/make-gpt2-fixtures.mjs wrote what tiktoken says).</summary>
public class Gpt2CompatibilityTests
{
    static readonly Lazy<Tokenizer> Gpt2 = new(() => Gpt2Vocabulary.FromNodeModules(NodeModules.Find()));
    static readonly JsonDocument Fixtures = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Tokenizers", "fixtures", "gpt2-fixtures.json")));

    public static IEnumerable<object[]> Adversarial() =>
        Enumerable.Range(0, Fixtures.RootElement.GetProperty("adversarial").GetArrayLength()).Select(i => new object[] { i });

    [Theory]
    [MemberData(nameof(Adversarial))]
    public void Adversarial_text_matches_tiktoken(int index)
    {
        var item = Fixtures.RootElement.GetProperty("adversarial")[index];
        string text = item.GetProperty("text").GetString()!;
        int[] expected = item.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(expected, Gpt2.Value.Encode(text).ToArray());
        Assert.Equal(text, Gpt2.Value.Decode(expected));
    }

    [Fact]
    public void Moby_Dick_matches_tiktoken_id_for_id()
    {
        var moby = Fixtures.RootElement.GetProperty("mobyDick");
        string dir = Path.Combine(NodeModules.Find(), "@stdlib", "datasets", "moby-dick", "data");
        var chapters = Directory.GetFiles(dir, "chapter_*.txt")
            .OrderBy(f => int.Parse(Path.GetFileNameWithoutExtension(f)["chapter_".Length..])).ToArray();
        Assert.Equal(moby.GetProperty("chapters").GetInt32(), chapters.Length);
        string text = string.Concat(chapters.Select(File.ReadAllText));
        var ids = Gpt2.Value.Encode(text);
        int[] first = moby.GetProperty("first").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(first, ids.Take(first.Length).ToArray());
        Assert.Equal(moby.GetProperty("count").GetInt32(), ids.Count);
        var bytes = new byte[ids.Count * 4];
        for (int i = 0; i < ids.Count; i++) BitConverter.TryWriteBytes(bytes.AsSpan(i * 4), ids[i]);
        Assert.Equal(moby.GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(bytes)));
        Assert.Equal(text, Gpt2.Value.Decode(ids));
    }

    [Fact]
    public void Decode_of_encode_is_exact_on_arbitrary_bytes()
    {
        var rng = new Random(5);
        for (int round = 0; round < 200; round++)
        {
            var bytes = new byte[rng.Next(0, 300)];
            rng.NextBytes(bytes);
            // Strings carry UTF-16, so go through a lossless byte-to-char route: Latin-1 keeps every byte.
            string text = Encoding.Latin1.GetString(bytes);
            var ids = Gpt2.Value.Encode(text, allowSpecial: false);
            Assert.Equal(Encoding.UTF8.GetBytes(text), Gpt2.Value.DecodeBytes(ids));
        }
    }

    [Fact]
    public void The_heap_path_for_long_pieces_agrees_with_the_scan_path()
    {
        // Long pieces (> 64 bytes) take the heap path; on pieces both can take they must agree, merge for merge.
        var model = Gpt2.Value.Model;
        var rng = new Random(9);
        string[] words = ["the", " whale", " Ahab", "ing", "tion", "aaaa", " ", "\n", "🐋", "é"];
        for (int round = 0; round < 2000; round++)
        {
            var sb = new StringBuilder();
            while (sb.Length < rng.Next(2, 40)) sb.Append(words[rng.Next(words.Length)]);
            byte[] bytes = Encoding.UTF8.GetBytes(sb.ToString());
            if (bytes.Length > 64) continue;
            List<int> scan = [], heap = [];
            model.EncodeShort(bytes, scan);
            model.EncodeLong(bytes, heap);
            Assert.Equal(scan, heap);
        }
        // And a 100,000-byte run finishes (tiktoken's merge loop is quadratic here) and round-trips.
        var ids = Gpt2.Value.Encode(new string('a', 100_000));
        Assert.Equal(new string('a', 100_000), Gpt2.Value.Decode(ids));
    }
}
