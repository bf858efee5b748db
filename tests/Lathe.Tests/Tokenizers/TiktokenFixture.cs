using System.Security.Cryptography;
using System.Text.Json;
using Lathe.IO;
using Lathe.Tokenizers;

namespace Lathe.Tests.Tokenizers;

/// <summary>Checks a tokenizer against what tiktoken said (fixtures/make-tiktoken-fixtures.mjs): every adversarial
/// string id for id (and decoding back), and the whole of Moby-Dick by count, first ids and SHA-256 of all ids.</summary>
internal static class TiktokenFixture
{
    static JsonElement Load(string file) =>
        JsonDocument.Parse(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Tokenizers", "fixtures", file))).RootElement;

    public static void CheckAdversarial(string file, Tokenizer tokenizer)
    {
        foreach (var item in Load(file).GetProperty("adversarial").EnumerateArray())
        {
            string text = item.GetProperty("text").GetString()!;
            int[] expected = item.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.True(expected.SequenceEqual(tokenizer.Encode(text)), $"ids differ for {JsonSerializer.Serialize(text)}");
            Assert.Equal(text, tokenizer.Decode(expected));
        }
    }

    public static string MobyDick()
    {
        string dir = Path.Combine(NodeModules.Find(), "@stdlib", "datasets", "moby-dick", "data");
        return string.Concat(Directory.GetFiles(dir, "chapter_*.txt")
            .OrderBy(f => int.Parse(Path.GetFileNameWithoutExtension(f)["chapter_".Length..])).Select(File.ReadAllText));
    }

    public static void CheckMobyDick(string file, Tokenizer tokenizer)
    {
        var moby = Load(file).GetProperty("mobyDick");
        string text = MobyDick();
        Assert.Equal(moby.GetProperty("chars").GetInt32(), text.Length);
        var ids = tokenizer.Encode(text);
        int[] first = moby.GetProperty("first").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(first, ids.Take(first.Length).ToArray());
        Assert.Equal(moby.GetProperty("count").GetInt32(), ids.Count);
        var bytes = new byte[ids.Count * 4];
        for (int i = 0; i < ids.Count; i++) BitConverter.TryWriteBytes(bytes.AsSpan(i * 4), ids[i]);
        Assert.Equal(moby.GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(bytes)));
        Assert.Equal(text, tokenizer.Decode(ids));
    }
}
