using System.Text.Json;
using Lathe.Server.OpenAi;

namespace Lathe.Server.Tests;

/// <summary>The request parsers alone: OpenAI's defaults when a field is absent, the extra samplers as vLLM and
/// llama.cpp spell "off", and null meaning "not given".</summary>
public class RequestParsingTests
{
    static ChatRequest Chat(string fields) =>
        ChatRequest.Parse(JsonDocument.Parse($$"""{"messages":[{"role":"user","content":"hi"}]{{fields}}}""").RootElement, 300);

    [Fact]
    public void Absent_fields_take_OpenAIs_defaults()
    {
        var r = Chat("");
        var s = r.Generation.Sampling;
        Assert.Equal(1f, s.Temperature);
        Assert.Equal(1f, s.TopP);
        Assert.Equal(0, s.TopK);
        Assert.Equal(0f, s.MinP);
        Assert.Equal(1f, s.RepetitionPenalty);
        Assert.Equal(0f, s.FrequencyPenalty);
        Assert.Equal(0f, s.PresencePenalty);
        Assert.Null(s.LogitBias);
        Assert.Null(r.Generation.MaxTokens);
        Assert.Equal(1, r.Generation.N);
        Assert.Empty(r.Generation.Stop);
        Assert.False(r.Generation.Stream);
        Assert.False(r.Generation.Seeded);
        Assert.Equal(-1, r.TopLogprobs);
        Assert.Equal("text", r.Constraints.ResponseFormat);
        Assert.False(r.Constraints.UsesTools);
        Assert.Equal(16, CompletionRequest.Parse(JsonDocument.Parse("""{"prompt":"a"}""").RootElement, 300).Generation.MaxTokens);
    }

    [Fact]
    public void Null_fields_count_as_absent_as_the_official_clients_send_them()
    {
        var r = Chat(""","temperature":null,"stop":null,"n":null,"logit_bias":null,"stream_options":null,"tools":null,"response_format":null""");
        Assert.Equal(1f, r.Generation.Sampling.Temperature);
        Assert.Empty(r.Generation.Stop);
        Assert.Equal(1, r.Generation.N);
    }

    [Fact]
    public void Fields_map_onto_the_sampler()
    {
        var r = Chat(""","temperature":0.5,"top_p":0,"top_k":-1,"min_p":0.1,"repetition_penalty":1.2,"frequency_penalty":-1,"presence_penalty":2,"seed":-5,"logit_bias":{"7":-100,"9":5.5},"stop":"END","n":3,"max_tokens":9,"logprobs":true""");
        var s = r.Generation.Sampling;
        Assert.Equal(0.5f, s.Temperature);
        Assert.True(s.TopP is > 0 and < 1e-6f, "top_p 0 keeps only the most likely token");
        Assert.Equal(0, s.TopK);
        Assert.Equal(0.1f, s.MinP);
        Assert.Equal(1.2f, s.RepetitionPenalty);
        Assert.Equal(-1f, s.FrequencyPenalty);
        Assert.Equal(2f, s.PresencePenalty);
        Assert.Equal(unchecked((ulong)-5L), s.Seed);
        Assert.True(r.Generation.Seeded);
        Assert.Equal(new Dictionary<int, float> { [7] = -100, [9] = 5.5f }, s.LogitBias);
        Assert.Equal(["END"], r.Generation.Stop);
        Assert.Equal(3, r.Generation.N);
        Assert.Equal(9, r.Generation.MaxTokens);
        Assert.Equal(0, r.TopLogprobs);
        s.Validate();
    }

    [Fact]
    public void Tool_and_format_shapes_are_read()
    {
        var r = Chat(""","tools":[{"type":"function","function":{"name":"get_time","description":"now","parameters":{"type":"object"},"strict":true}}],"tool_choice":{"type":"function","function":{"name":"get_time"}},"parallel_tool_calls":false,"response_format":{"type":"json_schema","json_schema":{"name":"answer","schema":{"type":"object"},"strict":true}}""");
        var c = r.Constraints;
        Assert.Equal("json_schema", c.ResponseFormat);
        Assert.Equal("answer", c.SchemaName);
        Assert.True(c.SchemaStrict);
        Assert.Equal("object", c.Schema!.Value.GetProperty("type").GetString());
        var tool = Assert.Single(c.Tools);
        Assert.Equal(("get_time", "now", true), (tool.Name, tool.Description, tool.Strict));
        Assert.Equal("function", c.ToolChoice);
        Assert.Equal("get_time", c.ToolChoiceName);
        Assert.False(c.ParallelToolCalls);
        Assert.True(c.UsesTools);
    }
}
