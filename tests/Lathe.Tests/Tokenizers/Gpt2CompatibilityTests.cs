using System.Text;
using Lathe.IO;
using Lathe.Tokenizers;

namespace Lathe.Tests.Tokenizers;

/// <summary>GPT-2 encoding id for id against tiktoken (fixtures/make-tiktoken-fixtures.mjs wrote what tiktoken says).</summary>
public class Gpt2CompatibilityTests
{
    static readonly Lazy<Tokenizer> Gpt2 = new(() => Gpt2Vocabulary.FromNodeModules(NodeModules.Find()));
    [Fact]
    public void Adversarial_text_matches_tiktoken() => TiktokenFixture.CheckAdversarial("gpt2-fixtures.json", Gpt2.Value);

    [Fact]
    public void Moby_Dick_matches_tiktoken_id_for_id() => TiktokenFixture.CheckMobyDick("gpt2-fixtures.json", Gpt2.Value);

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
