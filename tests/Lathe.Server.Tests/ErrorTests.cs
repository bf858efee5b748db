namespace Lathe.Server.Tests;

/// <summary>Every malformed or wrong-typed request is a 4xx with OpenAI's error object naming the field — never a 5xx.</summary>
[Collection("server")]
public class ErrorTests(SharedServer shared)
{
    ServerHarness H => shared.Harness;
    const string Msg = """ "messages":[{"role":"user","content":"hi"}] """;

    [Theory]
    [InlineData("""{"messages":"hi"}""", "messages")]
    [InlineData("""{"messages":[]}""", "messages")]
    [InlineData("""{"model":"tiny"}""", "messages")]
    [InlineData("""{"messages":[{"role":"user","content":"a"},{"role":"users","content":"x"}]}""", "messages[1].role")]
    [InlineData("""{"messages":[{"role":5,"content":"x"}]}""", "messages[0].role")]
    [InlineData("""{"messages":[{"role":"user"}]}""", "messages[0].content")]
    [InlineData("""{"messages":[{"role":"user","content":5}]}""", "messages[0].content")]
    [InlineData("""{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}""", "messages[0].content[0].type")]
    [InlineData("""{"messages":[{"role":"user","content":[{"type":"text"}]}]}""", "messages[0].content[0].text")]
    [InlineData("""{"messages":[{"role":"tool","content":"x"}]}""", "messages[0].tool_call_id")]
    [InlineData("""{"messages":["hi"]}""", "messages[0]")]
    [InlineData("""{"messages":[{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f"}}]}]}""", "messages[0].tool_calls[0].function.arguments")]
    [InlineData("""{"model":5,MSG}""", "model")]
    [InlineData("""{"temperature":"hot",MSG}""", "temperature")]
    [InlineData("""{"temperature":2.5,MSG}""", "temperature")]
    [InlineData("""{"top_p":1.5,MSG}""", "top_p")]
    [InlineData("""{"n":0,MSG}""", "n")]
    [InlineData("""{"n":129,MSG}""", "n")]
    [InlineData("""{"n":1.5,MSG}""", "n")]
    [InlineData("""{"max_tokens":0,MSG}""", "max_tokens")]
    [InlineData("""{"max_tokens":"5",MSG}""", "max_tokens")]
    [InlineData("""{"max_completion_tokens":-1,MSG}""", "max_completion_tokens")]
    [InlineData("""{"stop":["a","b","c","d","e"],MSG}""", "stop")]
    [InlineData("""{"stop":[1],MSG}""", "stop[0]")]
    [InlineData("""{"stop":"",MSG}""", "stop")]
    [InlineData("""{"stop":{"a":1},MSG}""", "stop")]
    [InlineData("""{"logit_bias":{"abc":1},MSG}""", "logit_bias.abc")]
    [InlineData("""{"logit_bias":{"5":200},MSG}""", "logit_bias.5")]
    [InlineData("""{"logit_bias":{"99999":1},MSG}""", "logit_bias.99999")]
    [InlineData("""{"logit_bias":[1],MSG}""", "logit_bias")]
    [InlineData("""{"top_logprobs":3,MSG}""", "top_logprobs")]
    [InlineData("""{"logprobs":true,"top_logprobs":21,MSG}""", "top_logprobs")]
    [InlineData("""{"logprobs":1,MSG}""", "logprobs")]
    [InlineData("""{"stream":"yes",MSG}""", "stream")]
    [InlineData("""{"stream_options":{"include_usage":true},MSG}""", "stream_options")]
    [InlineData("""{"seed":1.5,MSG}""", "seed")]
    [InlineData("""{"seed":"7",MSG}""", "seed")]
    [InlineData("""{"frequency_penalty":3,MSG}""", "frequency_penalty")]
    [InlineData("""{"presence_penalty":-2.5,MSG}""", "presence_penalty")]
    [InlineData("""{"top_k":-2,MSG}""", "top_k")]
    [InlineData("""{"min_p":1,MSG}""", "min_p")]
    [InlineData("""{"repetition_penalty":0,MSG}""", "repetition_penalty")]
    [InlineData("""{"response_format":{"type":"xml"},MSG}""", "response_format.type")]
    [InlineData("""{"response_format":{"type":"json_schema"},MSG}""", "response_format.json_schema")]
    [InlineData("""{"response_format":{"type":"json_schema","json_schema":{"name":"a b"}},MSG}""", "response_format.json_schema.name")]
    [InlineData("""{"response_format":{"type":"json_schema","json_schema":{"name":"a","schema":[]}},MSG}""", "response_format.json_schema.schema")]
    [InlineData("""{"tools":[{"type":"function"}],MSG}""", "tools[0].function")]
    [InlineData("""{"tools":[{"type":"retrieval","function":{"name":"f"}}],MSG}""", "tools[0].type")]
    [InlineData("""{"tools":{},MSG}""", "tools")]
    [InlineData("""{"tool_choice":"required",MSG}""", "tool_choice")]
    [InlineData("""{"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}},MSG}""", "tool_choice.function.name")]
    public async Task A_bad_chat_field_is_400_naming_it(string body, string param)
    {
        var (status, error) = await H.PostAsync("/v1/chat/completions", body.Replace("MSG", Msg));
        Assert.Equal(400, status);
        var e = error.GetProperty("error");
        Assert.Equal("invalid_request_error", e.GetProperty("type").GetString());
        Assert.Equal(param, e.GetProperty("param").GetString());
        Assert.StartsWith(param + ": ", e.GetProperty("message").GetString());
        Assert.DoesNotContain("\n", e.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("{")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}]""")]
    [InlineData("[1,2]")]
    [InlineData("\"hi\"")]
    [InlineData("")]
    [InlineData("{\"messages\": [}")]
    public async Task A_body_that_is_not_a_JSON_object_is_400(string body)
    {
        foreach (string path in new[] { "/v1/chat/completions", "/v1/completions", "/v1/embeddings" })
        {
            var (status, error) = await H.PostAsync(path, body);
            Assert.Equal(400, status);
            Assert.StartsWith("request body: ", error.GetProperty("error").GetProperty("message").GetString());
        }
    }

    [Fact]
    public async Task A_prompt_beyond_the_context_is_400_not_a_crash()
    {
        string longText = string.Concat(Enumerable.Repeat("the whale and the ship ", 200));
        var (s1, e1) = await H.PostAsync("/v1/chat/completions", new { messages = new[] { new { role = "user", content = longText } } });
        Assert.Equal(400, s1);
        Assert.Equal("invalid_request_error", e1.GetProperty("error").GetProperty("type").GetString());
        var (s2, _) = await H.PostAsync("/v1/completions", new { prompt = longText });
        Assert.Equal(400, s2);
        var (s3, _) = await H.PostAsync("/v1/embeddings", new { input = longText });
        Assert.Equal(400, s3);
        var (s4, _) = await H.PostAsync("/v1/chat/completions", new { messages = new[] { new { role = "user", content = "hi" } }, max_tokens = 100_000 });
        Assert.Equal(400, s4);
        Assert.Empty(H.Log);
    }

    [Fact]
    public async Task Wrong_methods_and_unknown_urls_get_error_objects()
    {
        using var get = await H.Http.GetAsync("/v1/chat/completions");
        Assert.Equal(405, (int)get.StatusCode);
        Assert.Equal("POST", get.Content.Headers.Allow.Single());
        Assert.Contains("\"method_not_allowed\"", await get.Content.ReadAsStringAsync());
        using var post = await H.Http.PostAsync("/v1/models", new StringContent("{}"));
        Assert.Equal(405, (int)post.StatusCode);
        var (status, body) = await H.GetAsync("/v1/fine_tuning/jobs");
        Assert.Equal(404, status);
        Assert.Equal("unknown_url", body.GetProperty("error").GetProperty("code").GetString());
    }
}
