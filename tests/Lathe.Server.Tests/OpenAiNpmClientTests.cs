using System.Diagnostics;
using System.Text.Json;

namespace Lathe.Server.Tests;

/// <summary>The official `openai` npm client, unmodified, against the server (js/openai-client.mjs): what it parses must
/// be what the server answers over raw HTTP to the same requests, and its typed errors must carry status, code and param.</summary>
public class OpenAiNpmClientTests
{
    static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Lathe.sln"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("repo root (Lathe.sln) not found");
        }
    }

    static string OpenAiModule => Path.Combine(
        Environment.GetEnvironmentVariable("LATHE_NODE_MODULES") is { Length: > 0 } env ? env : Path.Combine(RepoRoot, ".peers", "node_modules"),
        "openai", "index.mjs");

    static Dictionary<string, int> NoStops => new()
    {
        [TinyModel.SpecialId(TinyModel.ImEnd).ToString()] = -100,
        [TinyModel.SpecialId(TinyModel.EndOfText).ToString()] = -100,
    };

    [Fact]
    public async Task The_official_client_reads_every_endpoint_as_the_server_answers_it()
    {
        Assert.True(File.Exists(OpenAiModule), $"{OpenAiModule} is missing: run scripts/install-peers.sh");
        const string Key = "test-key-1";
        // A context long enough for the tools block (this byte-level vocabulary spends about a token per character).
        await using var h = await ServerHarness.StartAsync(new ServerOptions { ApiKey = Key }, model: TinyModel.Create(7, maxPositions: 2048));
        var summary = await RunScript(h, Key);

        var messages = new object[] { new { role = "system", content = "You are terse." }, new { role = "user", content = "Hello there." } };
        var (_, raw) = await h.PostAsync("/v1/chat/completions", new { model = "tiny", messages, max_tokens = 6, seed = 7, logprobs = true, top_logprobs = 3, logit_bias = NoStops }, Key);
        var chat = summary.GetProperty("chat");
        string content = raw.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        Assert.Equal("chat.completion", chat.GetProperty("object").GetString());
        Assert.Equal("assistant", chat.GetProperty("role").GetString());
        Assert.Equal(content, chat.GetProperty("content").GetString());
        Assert.Equal("length", chat.GetProperty("finish").GetString());
        Usage.AssertSame(raw.GetProperty("usage"), chat.GetProperty("usage"));
        var rawLogprobs = raw.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("content").EnumerateArray().ToList();
        var logprobs = chat.GetProperty("logprobs").EnumerateArray().ToList();
        Assert.Equal(6, logprobs.Count);
        for (int i = 0; i < 6; i++)
        {
            Assert.Equal(rawLogprobs[i].GetProperty("token").GetString(), logprobs[i].GetProperty("token").GetString());
            Assert.Equal(rawLogprobs[i].GetProperty("logprob").GetDouble(), logprobs[i].GetProperty("logprob").GetDouble());
            Assert.Equal(rawLogprobs[i].GetProperty("bytes").GetRawText(), logprobs[i].GetProperty("bytes").GetRawText());
            Assert.Equal(3, logprobs[i].GetProperty("top").GetInt32());
        }

        var stream = summary.GetProperty("stream");
        Assert.Equal(content, stream.GetProperty("text").GetString());
        Assert.Equal("assistant", stream.GetProperty("role").GetString());
        Assert.Equal("length", stream.GetProperty("finish").GetString());
        Usage.AssertSame(raw.GetProperty("usage"), stream.GetProperty("usage"));

        var (_, many) = await h.PostAsync("/v1/chat/completions", new { model = "tiny", messages, n = 3, max_tokens = 4, seed = 1, logit_bias = NoStops }, Key);
        var n = summary.GetProperty("n").EnumerateArray().ToList();
        Assert.Equal(3, n.Count);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(i, n[i].GetProperty("index").GetInt32());
            Assert.Equal(many.GetProperty("choices")[i].GetProperty("message").GetProperty("content").GetString(), n[i].GetProperty("content").GetString());
        }
        Assert.Equal([n[0].GetProperty("content").GetString(), n[1].GetProperty("content").GetString()],
            summary.GetProperty("nStream").EnumerateArray().Select(e => e.GetString()));

        var (_, completion) = await h.PostAsync("/v1/completions", new { model = "tiny", prompt = "the whale", max_tokens = 4, seed = 3, logprobs = 2, logit_bias = NoStops }, Key);
        Assert.Equal(completion.GetProperty("choices")[0].GetProperty("text").GetString(), summary.GetProperty("completion").GetProperty("text").GetString());
        Assert.Equal(4, summary.GetProperty("completion").GetProperty("tokens").GetInt32());

        // The client asks for base64 and decodes it: the floats must be the server's float answer, bit for bit.
        var e = summary.GetProperty("embeddings");
        var (_, embeddings) = await h.PostAsync("/v1/embeddings", new { model = "tiny", input = new[] { "the whale", "the sea" } }, Key);
        Assert.Equal(2, e.GetProperty("count").GetInt32());
        Assert.Equal(Floats(embeddings.GetProperty("data")[0].GetProperty("embedding")), Floats(e.GetProperty("first")));
        Assert.Equal(Floats(embeddings.GetProperty("data")[1].GetProperty("embedding")), Floats(e.GetProperty("second")));
        Assert.Equal(embeddings.GetProperty("usage").GetRawText(), e.GetProperty("usage").GetRawText());

        // json_schema: the client's parse() helper read the content as JSON satisfying the schema.
        var js = summary.GetProperty("jsonSchema");
        Assert.Equal("stop", js.GetProperty("finish").GetString());
        var parsed = js.GetProperty("parsed");
        Assert.Contains(parsed.GetProperty("kind").GetString(), new[] { "whale", "ship" });
        Assert.True(parsed.GetProperty("count").TryGetInt64(out _));
        var structured = JsonDocument.Parse(js.GetProperty("content").GetString()!).RootElement;
        Assert.Equal(structured.GetProperty("kind").GetString(), parsed.GetProperty("kind").GetString());
        Assert.Equal(structured.GetProperty("count").GetInt64(), parsed.GetProperty("count").GetInt64());

        // Tools: the named call as the client sees it, and the streamed deltas it assembled into the same call.
        var tools = summary.GetProperty("tools");
        Assert.Equal("tool_calls", tools.GetProperty("finish").GetString());
        Assert.Equal(JsonValueKind.Null, tools.GetProperty("content").ValueKind);
        var call = tools.GetProperty("calls")[0];
        Assert.Equal("get_weather", call.GetProperty("function").GetProperty("name").GetString());
        Assert.Contains(JsonDocument.Parse(call.GetProperty("function").GetProperty("arguments").GetString()!).RootElement.GetProperty("city").GetString(), new[] { "Paris", "Oslo" });
        var streamedCall = summary.GetProperty("toolsStream").GetProperty("calls")[0];
        Assert.Equal("tool_calls", summary.GetProperty("toolsStream").GetProperty("finish").GetString());
        Assert.Equal(call.GetProperty("id").GetString(), streamedCall.GetProperty("id").GetString());
        Assert.Equal(call.GetProperty("function").GetProperty("arguments").GetString(), streamedCall.GetProperty("function").GetProperty("arguments").GetString());

        Assert.Equal(["tiny"], summary.GetProperty("models").EnumerateArray().Select(m => m.GetString()));
        Assert.Equal("tiny", summary.GetProperty("retrieved").GetString());

        var notFound = summary.GetProperty("notFound");
        Assert.Equal("NotFoundError", notFound.GetProperty("name").GetString());
        Assert.Equal(404, notFound.GetProperty("status").GetInt32());
        Assert.Equal("model_not_found", notFound.GetProperty("code").GetString());
        var bad = summary.GetProperty("badRequest");
        Assert.Equal("BadRequestError", bad.GetProperty("name").GetString());
        Assert.Equal("temperature", bad.GetProperty("param").GetString());
        Assert.Equal("invalid_request_error", bad.GetProperty("type").GetString());
        var unauthorized = summary.GetProperty("unauthorized");
        Assert.Equal("AuthenticationError", unauthorized.GetProperty("name").GetString());
        Assert.Equal(401, unauthorized.GetProperty("status").GetInt32());
        Assert.Empty(h.Log);
    }

    static float[] Floats(JsonElement array) => array.EnumerateArray().Select(x => (float)x.GetDouble()).ToArray();

    static async Task<JsonElement> RunScript(ServerHarness h, string key)
    {
        var psi = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "js", "openai-client.mjs"));
        psi.Environment["OPENAI_MODULE"] = new Uri(OpenAiModule).AbsoluteUri;
        psi.Environment["LATHE_BASE_URL"] = new Uri(h.Server.Address, "v1").ToString();
        psi.Environment["LATHE_API_KEY"] = key;
        psi.Environment["LATHE_MODEL"] = ServerHarness.ModelId;
        psi.Environment["LATHE_NO_STOPS"] = JsonSerializer.Serialize(NoStops);
        using var node = Process.Start(psi)!;
        var stderr = node.StandardError.ReadToEndAsync();
        string stdout = await node.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await node.WaitForExitAsync(timeout.Token);
        Assert.True(node.ExitCode == 0, $"node exited {node.ExitCode}: {await stderr}");
        return JsonDocument.Parse(stdout).RootElement.Clone();
    }
}
