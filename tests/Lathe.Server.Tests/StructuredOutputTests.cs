using System.Text.Json;

namespace Lathe.Server.Tests;

/// <summary>response_format and tools over HTTP with a random-weight model (the hardest case for a grammar: nothing
/// in the weights helps): every json_schema reply parses and satisfies its schema, required tool calls come back as
/// OpenAI's tool_calls with finish_reason "tool_calls" (whole and streamed), earlier calls and tool results render,
/// and a schema keyword the compiler does not support is a 400 naming its path. The checks parse with System.Text.Json
/// and test the schema's rules by hand, independently of the grammar.</summary>
[Collection("server")]
public class StructuredOutputTests : IAsyncLifetime
{
    // A context long enough for a tools block in this byte-level vocabulary (about one token per character).
    ServerHarness H = null!;
    public async Task InitializeAsync() => H = await ServerHarness.StartAsync(model: TinyModel.Create(7, maxPositions: 2048));
    public async Task DisposeAsync() => await H.DisposeAsync();
    const string Chat = "/v1/chat/completions";
    static object[] Ask => [new { role = "user", content = "Describe a whale as JSON." }];

    // Every value bounded (enums, integers, booleans, a short array), so a random model finishes within max_tokens.
    static readonly object PersonSchema = new
    {
        type = "object",
        properties = new Dictionary<string, object>
        {
            ["kind"] = new { type = "string", @enum = new[] { "whale", "ship", "sea" } },
            ["length"] = new { type = "integer" },
            ["alive"] = new { type = "boolean" },
            ["tags"] = new { type = "array", items = new { @enum = new[] { "a", "b" } }, maxItems = 3 },
            ["note"] = new { type = new[] { "null", "boolean" } },
        },
        required = new[] { "kind", "length", "alive" },
        additionalProperties = false,
    };

    [Fact]
    public async Task Json_schema_replies_parse_and_satisfy_the_schema()
    {
        var format = new { type = "json_schema", json_schema = new { name = "thing", schema = PersonSchema, strict = true } };
        for (int seed = 1; seed <= 3; seed++)
        {
            var (status, body) = await H.PostAsync(Chat, new { messages = Ask, response_format = format, n = 4, temperature = 1.0, seed, max_tokens = 900 });
            Assert.True(status == 200, body.ToString());
            foreach (var choice in body.GetProperty("choices").EnumerateArray())
            {
                Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
                string content = choice.GetProperty("message").GetProperty("content").GetString()!;
                using var doc = JsonDocument.Parse(content);
                var o = doc.RootElement;
                Assert.Equal(JsonValueKind.Object, o.ValueKind);
                Assert.Contains(o.GetProperty("kind").GetString(), new[] { "whale", "ship", "sea" });
                Assert.True(o.GetProperty("length").TryGetInt64(out _), content);
                Assert.Contains(o.GetProperty("alive").ValueKind, new[] { JsonValueKind.True, JsonValueKind.False });
                foreach (var p in o.EnumerateObject())
                    Assert.Contains(p.Name, new[] { "kind", "length", "alive", "tags", "note" });
                if (o.TryGetProperty("tags", out var tags))
                {
                    Assert.InRange(tags.GetArrayLength(), 0, 3);
                    Assert.All(tags.EnumerateArray(), t => Assert.Contains(t.GetString(), new[] { "a", "b" }));
                }
                if (o.TryGetProperty("note", out var note))
                    Assert.Contains(note.ValueKind, new[] { JsonValueKind.Null, JsonValueKind.True, JsonValueKind.False });
            }
        }
    }

    [Fact]
    public async Task Json_object_replies_are_objects_when_they_finish()
    {
        var (status, body) = await H.PostAsync(Chat, new { messages = Ask, response_format = new { type = "json_object" }, n = 4, temperature = 0.8, seed = 5, max_tokens = 120 });
        Assert.True(status == 200, body.ToString());
        foreach (var choice in body.GetProperty("choices").EnumerateArray())
        {
            string content = choice.GetProperty("message").GetProperty("content").GetString()!;
            Assert.StartsWith("{", content.TrimStart());
            // An object may still be open at max_tokens (a random model's strings can run on); a finished one parses.
            if (choice.GetProperty("finish_reason").GetString() == "stop")
                Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(content).RootElement.ValueKind);
        }
    }

    static object[] WeatherTools =>
    [
        new
        {
            type = "function",
            function = new
            {
                name = "get_weather", description = "The weather in a city.",
                parameters = new
                {
                    type = "object",
                    properties = new Dictionary<string, object>
                    {
                        ["city"] = new { type = "string", @enum = new[] { "Paris", "Oslo" } },
                        ["unit"] = new { type = "string", @enum = new[] { "c", "f" } },
                    },
                    required = new[] { "city", "unit" }, additionalProperties = false,
                },
            },
        },
        new { type = "function", function = new { name = "get_time", parameters = new { type = "object", properties = new { }, additionalProperties = false } } },
    ];

    static void AssertWeatherCall(JsonElement call)
    {
        Assert.StartsWith("call_", call.GetProperty("id").GetString());
        Assert.Equal("function", call.GetProperty("type").GetString());
        var fn = call.GetProperty("function");
        Assert.Equal("get_weather", fn.GetProperty("name").GetString());
        using var args = JsonDocument.Parse(fn.GetProperty("arguments").GetString()!);
        Assert.Contains(args.RootElement.GetProperty("city").GetString(), new[] { "Paris", "Oslo" });
        Assert.Contains(args.RootElement.GetProperty("unit").GetString(), new[] { "c", "f" });
    }

    [Fact]
    public async Task A_named_tool_choice_returns_its_call_whole_and_streamed()
    {
        var choice = new { type = "function", function = new { name = "get_weather" } };
        var request = new { messages = Ask, tools = WeatherTools, tool_choice = choice, temperature = 1.0, seed = 3, max_tokens = 600, parallel_tool_calls = false };
        var (status, body) = await H.PostAsync(Chat, request);
        Assert.True(status == 200, body.ToString());
        var c = body.GetProperty("choices")[0];
        Assert.True(c.GetProperty("finish_reason").GetString() == "tool_calls", c.ToString());
        Assert.Equal(JsonValueKind.Null, c.GetProperty("message").GetProperty("content").ValueKind);
        var calls = c.GetProperty("message").GetProperty("tool_calls");
        Assert.Equal(1, calls.GetArrayLength());
        AssertWeatherCall(calls[0]);

        // Streamed: the same call in delta.tool_calls, then finish_reason tool_calls.
        var events = await H.StreamAsync(Chat, new { request.messages, request.tools, request.tool_choice, request.temperature, request.seed, request.max_tokens, request.parallel_tool_calls, stream = true });
        var streamed = events.SelectMany(e => e.GetProperty("choices").EnumerateArray())
            .Where(ch => ch.TryGetProperty("delta", out var d) && d.TryGetProperty("tool_calls", out _))
            .SelectMany(ch => ch.GetProperty("delta").GetProperty("tool_calls").EnumerateArray()).ToList();
        Assert.Single(streamed);
        Assert.Equal(calls[0].GetProperty("id").GetString(), streamed[0].GetProperty("id").GetString());
        Assert.Equal(calls[0].GetProperty("function").GetProperty("arguments").GetString(), streamed[0].GetProperty("function").GetProperty("arguments").GetString());
        Assert.Contains(events.SelectMany(e => e.GetProperty("choices").EnumerateArray()),
            ch => ch.TryGetProperty("finish_reason", out var f) && f.ValueKind == JsonValueKind.String && f.GetString() == "tool_calls");
    }

    [Fact]
    public async Task Required_tool_calls_name_a_tool_and_match_its_parameters()
    {
        for (int seed = 1; seed <= 4; seed++)
        {
            var (status, body) = await H.PostAsync(Chat, new { messages = Ask, tools = WeatherTools, tool_choice = "required", temperature = 1.0, seed, max_tokens = 900 });
            Assert.True(status == 200, body.ToString());
            var c = body.GetProperty("choices")[0];
            Assert.True(c.GetProperty("finish_reason").GetString() == "tool_calls", c.ToString());
            foreach (var call in c.GetProperty("message").GetProperty("tool_calls").EnumerateArray())
            {
                string name = call.GetProperty("function").GetProperty("name").GetString()!;
                if (name == "get_weather") AssertWeatherCall(call);
                else
                {
                    Assert.Equal("get_time", name);
                    Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(call.GetProperty("function").GetProperty("arguments").GetString()!).RootElement.ValueKind);
                }
            }
        }
    }

    [Fact]
    public async Task Earlier_calls_and_tool_results_are_part_of_the_conversation()
    {
        object[] messages =
        [
            new { role = "user", content = "Weather in Oslo?" },
            new { role = "assistant", content = (string?)null, tool_calls = new[] { new { id = "call_1", type = "function", function = new { name = "get_weather", arguments = "{\"city\":\"Oslo\",\"unit\":\"c\"}" } } } },
            new { role = "tool", tool_call_id = "call_1", content = "-3" },
        ];
        var (status, body) = await H.PostAsync(Chat, new { messages, tools = WeatherTools, max_tokens = 4, temperature = 0 });
        Assert.True(status == 200, body.ToString());
        // The rendered prompt holds the call and the result: more tokens than the same conversation without them.
        var (_, bare) = await H.PostAsync(Chat, new { messages = new object[] { messages[0] }, tools = WeatherTools, max_tokens = 4, temperature = 0 });
        Assert.True(body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32() > bare.GetProperty("usage").GetProperty("prompt_tokens").GetInt32() + 10);
    }

    [Fact]
    public async Task An_unsupported_schema_keyword_is_a_400_naming_its_path()
    {
        var schema = new { type = "object", properties = new { code = new { type = "string", pattern = "^[A-Z]+$" } } };
        var (status, body) = await H.PostAsync(Chat, new { messages = Ask, response_format = new { type = "json_schema", json_schema = new { name = "x", schema } } });
        Assert.Equal(400, status);
        var error = body.GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.StartsWith("response_format.json_schema.schema.properties.code", error.GetProperty("param").GetString());
        Assert.Contains("pattern", error.GetProperty("message").GetString());
    }
}
