using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Lathe.Server.Tests;

/// <summary>POST /v1/completions: the prompt forms (string, strings, ids, lists of ids), choice numbering across
/// prompts, echo, max_tokens 0, streaming, and the legacy log-probability arrays against the model's log-softmax.</summary>
[Collection("server")]
public class CompletionsTests(SharedServer shared)
{
    ServerHarness H => shared.Harness;
    const string Path = "/v1/completions";

    static Dictionary<string, int> NoStops => new()
    {
        [TinyModel.SpecialId(TinyModel.ImEnd).ToString()] = -100,
        [TinyModel.SpecialId(TinyModel.EndOfText).ToString()] = -100,
    };

    [Fact]
    public async Task A_text_prompt_gives_a_text_completion_of_OpenAIs_default_16_tokens()
    {
        var (status, body) = await H.PostAsync(Path, new { model = "tiny", prompt = "the whale and", seed = 2, logit_bias = NoStops });
        Assert.Equal(200, status);
        Assert.StartsWith("cmpl-", body.GetProperty("id").GetString());
        Assert.Equal("text_completion", body.GetProperty("object").GetString());
        var choice = Assert.Single(body.GetProperty("choices").EnumerateArray());
        Assert.Equal(0, choice.GetProperty("index").GetInt32());
        Assert.Equal(JsonValueKind.Null, choice.GetProperty("logprobs").ValueKind);
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        var usage = body.GetProperty("usage");
        Assert.Equal(H.Model.Encode("the whale and").Length, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(16, usage.GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task Several_prompts_give_n_choices_each_numbered_prompt_by_prompt()
    {
        string[] prompts = ["the sea", "Hello there"];
        var (_, body) = await H.PostAsync(Path, new { prompt = prompts, n = 2, max_tokens = 5, seed = 11, logit_bias = NoStops });
        var choices = body.GetProperty("choices").EnumerateArray().ToList();
        Assert.Equal([0, 1, 2, 3], choices.Select(c => c.GetProperty("index").GetInt32()));
        Assert.Equal(prompts.Sum(p => H.Model.Encode(p).Length), body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(20, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        // Choice 2·1 + 1 is the second prompt's second sample: seed + 1.
        var (_, alone) = await H.PostAsync(Path, new { prompt = prompts[1], max_tokens = 5, seed = 12, logit_bias = NoStops });
        Assert.Equal(alone.GetProperty("choices")[0].GetProperty("text").GetString(), choices[3].GetProperty("text").GetString());
        // Token ids as the prompt: the same continuation as the text they encode.
        int[] ids = H.Model.Encode(prompts[0]);
        var (_, byIds) = await H.PostAsync(Path, new { prompt = ids, max_tokens = 5, seed = 11, logit_bias = NoStops });
        Assert.Equal(choices[0].GetProperty("text").GetString(), byIds.GetProperty("choices")[0].GetProperty("text").GetString());
        var (_, byIdLists) = await H.PostAsync(Path, new { prompt = new[] { ids, H.Model.Encode(prompts[1]) }, n = 2, max_tokens = 5, seed = 11, logit_bias = NoStops });
        Assert.Equal(choices.Select(c => c.GetProperty("text").GetString()),
            byIdLists.GetProperty("choices").EnumerateArray().Select(c => c.GetProperty("text").GetString()));
    }

    [Fact]
    public async Task Echo_puts_the_prompt_first_and_max_tokens_0_generates_nothing()
    {
        var (_, plain) = await H.PostAsync(Path, new { prompt = "the ship", max_tokens = 4, seed = 1, logit_bias = NoStops });
        var (_, echoed) = await H.PostAsync(Path, new { prompt = "the ship", max_tokens = 4, seed = 1, logit_bias = NoStops, echo = true });
        Assert.Equal("the ship" + plain.GetProperty("choices")[0].GetProperty("text").GetString(), echoed.GetProperty("choices")[0].GetProperty("text").GetString());
        var (status, nothing) = await H.PostAsync(Path, new { prompt = "the ship", max_tokens = 0, echo = true });
        Assert.Equal(200, status);
        Assert.Equal("the ship", nothing.GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.Equal("length", nothing.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(0, nothing.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(H.Model.Encode("the ship").Length, nothing.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }

    [Fact]
    public async Task Legacy_log_probabilities_are_parallel_arrays_of_the_models_log_softmax()
    {
        var (status, body) = await H.PostAsync(Path, new { prompt = "the sky", max_tokens = 6, seed = 4, logprobs = 3, logit_bias = NoStops });
        Assert.Equal(200, status);
        var choice = body.GetProperty("choices")[0];
        var lp = choice.GetProperty("logprobs");
        var tokens = lp.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()!).ToList();
        var values = lp.GetProperty("token_logprobs").EnumerateArray().Select(t => t.GetDouble()).ToList();
        var tops = lp.GetProperty("top_logprobs").EnumerateArray().ToList();
        var offsets = lp.GetProperty("text_offset").EnumerateArray().Select(t => t.GetInt32()).ToList();
        Assert.Equal(6, tokens.Count);
        Assert.Equal(6, values.Count);
        Assert.Equal(6, tops.Count);
        Assert.Equal(6, offsets.Count);
        var ids = H.Model.Encode("the sky").ToList();
        var bytes = new List<byte>();
        for (int i = 0; i < tokens.Count; i++)
        {
            byte[] b = BytesOf(tokens[i]);
            int id = Oracle.IdOfBytes(H.Model, b);
            double[] oracle = Oracle.LogSoftmax(H.Model, [.. ids])[^1];
            Assert.Equal(oracle[id], values[i], 1e-4);
            // The 3 most likely tokens and the chosen one: up to 4 entries, each the model's log-probability.
            var top = tops[i].EnumerateObject().ToList();
            Assert.InRange(top.Count, 3, 4);
            Assert.Contains(top, p => p.Name == tokens[i]);
            foreach (var p in top) Assert.Equal(oracle[Oracle.IdOfBytes(H.Model, BytesOf(p.Name))], p.Value.GetDouble(), 1e-4);
            int[] best = Enumerable.Range(0, oracle.Length).OrderByDescending(v => oracle[v]).Take(3).ToArray();
            foreach (int v in best) Assert.Contains(top, p => Oracle.IdOfBytes(H.Model, BytesOf(p.Name)) == v);
            ids.Add(id);
            bytes.AddRange(b);
        }
        string text = choice.GetProperty("text").GetString()!;
        Assert.Equal(Encoding.UTF8.GetString([.. bytes]), text);
        Assert.Equal(0, offsets[0]);
        Assert.True(offsets.Zip(offsets.Skip(1)).All(p => p.First <= p.Second) && offsets[^1] <= text.Length, "text_offset runs backwards or past the text");
    }

    [Fact]
    public async Task A_stream_carries_the_same_text_as_the_whole_completion()
    {
        var request = new Dictionary<string, object> { ["prompt"] = new[] { "the sea", "the sky" }, ["max_tokens"] = 7, ["n"] = 2, ["seed"] = 21, ["echo"] = true };
        var (_, whole) = await H.PostAsync(Path, request);
        request["stream"] = true;
        request["stream_options"] = new { include_usage = true };
        var chunks = await H.StreamAsync(Path, request);
        Assert.All(chunks, c => Assert.Equal("text_completion", c.GetProperty("object").GetString()));
        Usage.AssertSame(whole.GetProperty("usage"), chunks[^1].GetProperty("usage"));
        var pieces = chunks.SkipLast(1).SelectMany(c => c.GetProperty("choices").EnumerateArray()).ToList();
        foreach (var expected in whole.GetProperty("choices").EnumerateArray())
        {
            int index = expected.GetProperty("index").GetInt32();
            var mine = pieces.Where(p => p.GetProperty("index").GetInt32() == index).ToList();
            Assert.Equal(expected.GetProperty("text").GetString(), string.Concat(mine.Select(p => p.GetProperty("text").GetString())));
            var finish = Assert.Single(mine, p => p.GetProperty("finish_reason").ValueKind != JsonValueKind.Null);
            Assert.Equal(expected.GetProperty("finish_reason").GetString(), finish.GetProperty("finish_reason").GetString());
        }
    }

    [Theory]
    [InlineData("""{"prompt":"a","suffix":"z"}""", "suffix")]
    [InlineData("""{"prompt":"a","best_of":3}""", "best_of")]
    [InlineData("""{"prompt":"a","echo":true,"logprobs":1}""", "echo")]
    [InlineData("""{"prompt":"a","logprobs":6}""", "logprobs")]
    [InlineData("""{"prompt":[]}""", "prompt")]
    [InlineData("""{"prompt":["a",[1,2]]}""", "prompt[1]")]
    [InlineData("""{"prompt":[1,"a"]}""", "prompt[1]")]
    [InlineData("""{"prompt":[1,99999]}""", "prompt[1]")]
    [InlineData("""{"prompt":[[1],[]]}""", "prompt[1]")]
    [InlineData("""{"prompt":""}""", "prompt")]
    [InlineData("""{"max_tokens":3}""", "prompt")]
    public async Task Bad_fields_are_400_naming_them(string body, string param)
    {
        var (status, error) = await H.PostAsync(Path, body);
        Assert.Equal(400, status);
        Assert.Equal(param, error.GetProperty("error").GetProperty("param").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("error").GetProperty("type").GetString());
    }

    // A legacy token string's bytes: its UTF-8, or the bytes:\xNN form of a partial character.
    static byte[] BytesOf(string token) => token.StartsWith("bytes:", StringComparison.Ordinal)
        ? token["bytes:".Length..].Split("\\x", StringSplitOptions.RemoveEmptyEntries).Select(h => byte.Parse(h, NumberStyles.HexNumber)).ToArray()
        : Encoding.UTF8.GetBytes(token);
}
