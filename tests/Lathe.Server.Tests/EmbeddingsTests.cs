using System.Runtime.InteropServices;
using System.Text.Json;

namespace Lathe.Server.Tests;

/// <summary>POST /v1/embeddings: every input form, float and base64 encodings of the same vectors, usage, and
/// <c>dimensions</c>; the vectors are the engine's own (the transport changes no bit of them).</summary>
[Collection("server")]
public class EmbeddingsTests(SharedServer shared)
{
    ServerHarness H => shared.Harness;
    const string Path = "/v1/embeddings";

    [Fact]
    public async Task Text_inputs_give_the_engines_unit_vectors_in_order_with_usage()
    {
        string[] inputs = ["the whale", "Hello there. How are you?"];
        var (status, body) = await H.PostAsync(Path, new { model = "tiny", input = inputs });
        Assert.Equal(200, status);
        Assert.Equal("list", body.GetProperty("object").GetString());
        Assert.Equal("tiny", body.GetProperty("model").GetString());
        int[][] ids = inputs.Select(t => H.Model.Encode(t)).ToArray();
        float[][] expected = await H.Engine.EmbedAsync(ids);
        var data = body.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(2, data.Count);
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal("embedding", data[i].GetProperty("object").GetString());
            Assert.Equal(i, data[i].GetProperty("index").GetInt32());
            float[] v = Floats(data[i]);
            Assert.Equal(expected[i], v);   // bit for bit: JSON floats round-trip
            Assert.Equal(1.0, Math.Sqrt(v.Sum(x => (double)x * x)), 1e-5);
        }
        Assert.Equal(ids.Sum(a => a.Length), body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(ids.Sum(a => a.Length), body.GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task Token_inputs_and_base64_give_the_same_vectors_as_text_and_floats()
    {
        int[] ids = H.Model.Encode("the whale");
        var (_, byText) = await H.PostAsync(Path, new { input = "the whale" });
        var (_, byIds) = await H.PostAsync(Path, new { input = ids });
        var (_, byIdLists) = await H.PostAsync(Path, new { input = new[] { ids, ids }, encoding_format = "base64" });
        float[] reference = Floats(byText.GetProperty("data")[0]);
        Assert.Equal(reference, Floats(byIds.GetProperty("data")[0]));
        foreach (var item in byIdLists.GetProperty("data").EnumerateArray())
        {
            byte[] raw = Convert.FromBase64String(item.GetProperty("embedding").GetString()!);
            Assert.Equal(reference, MemoryMarshal.Cast<byte, float>(raw).ToArray());   // little-endian float32
        }
    }

    [Fact]
    public async Task Dimensions_keeps_the_first_values_normalised_again()
    {
        var (_, full) = await H.PostAsync(Path, new { input = "the sea" });
        var (_, shortened) = await H.PostAsync(Path, new { input = "the sea", dimensions = 8 });
        float[] f = Floats(full.GetProperty("data")[0]), s = Floats(shortened.GetProperty("data")[0]);
        Assert.Equal(8, s.Length);
        double norm = Math.Sqrt(f.Take(8).Sum(x => (double)x * x));
        for (int i = 0; i < 8; i++) Assert.Equal(f[i] / norm, s[i], 1e-6);
    }

    [Theory]
    [InlineData("""{"input":""}""", "input")]
    [InlineData("""{"input":[]}""", "input")]
    [InlineData("""{"input":["a",""]}""", "input[1]")]
    [InlineData("""{"input":[1,"a"]}""", "input[1]")]
    [InlineData("""{"input":[[1],[1,99999]]}""", "input[1][1]")]
    [InlineData("""{"input":true}""", "input")]
    [InlineData("""{"input":"a","encoding_format":"int8"}""", "encoding_format")]
    [InlineData("""{"input":"a","dimensions":0}""", "dimensions")]
    [InlineData("""{"input":"a","dimensions":100000}""", "dimensions")]
    [InlineData("""{}""", "input")]
    public async Task Bad_fields_are_400_naming_them(string body, string param)
    {
        var (status, error) = await H.PostAsync(Path, body);
        Assert.Equal(400, status);
        Assert.Equal(param, error.GetProperty("error").GetProperty("param").GetString());
    }

    static float[] Floats(JsonElement item) => item.GetProperty("embedding").EnumerateArray().Select(x => x.GetSingle()).ToArray();
}
