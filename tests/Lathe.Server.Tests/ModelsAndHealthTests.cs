using System.Text.Json;
using Lathe.Inference;

namespace Lathe.Server.Tests;

/// <summary>GET /v1/models, the model field choosing base or adapter, and /health as a readiness probe.</summary>
public class ModelsAndHealthTests
{
    /// <summary>Records which adapter the engine activates for each step it runs.</summary>
    sealed class RecordingAdapters(params string[] names) : IAdapterSet
    {
        readonly List<string?> _used = [];
        public IReadOnlyCollection<string> Names => names;
        public void Use(string? name) { lock (_used) _used.Add(name); }
        public List<string?> Used { get { lock (_used) return [.. _used]; } }
    }

    [Fact]
    public async Task The_base_and_each_adapter_are_models_and_the_model_field_selects_one()
    {
        var adapters = new RecordingAdapters("tuned", "other");
        await using var h = await ServerHarness.StartAsync(adapters: adapters);
        var (status, list) = await h.GetAsync("/v1/models");
        Assert.Equal(200, status);
        Assert.Equal("list", list.GetProperty("object").GetString());
        var data = list.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(["tiny", "other", "tuned"], data.Select(m => m.GetProperty("id").GetString()));
        Assert.All(data, m =>
        {
            Assert.Equal("model", m.GetProperty("object").GetString());
            Assert.Equal("lathe", m.GetProperty("owned_by").GetString());
            Assert.True(m.GetProperty("created").GetInt64() > 1_600_000_000);
        });
        var (s1, one) = await h.GetAsync("/v1/models/tuned");
        Assert.Equal(200, s1);
        Assert.Equal("tuned", one.GetProperty("id").GetString());

        var (s2, reply) = await h.PostAsync("/v1/chat/completions", new { model = "tuned", messages = new[] { new { role = "user", content = "hi" } }, max_tokens = 2 });
        Assert.Equal(200, s2);
        Assert.Equal("tuned", reply.GetProperty("model").GetString());
        Assert.Contains("tuned", adapters.Used);
        Assert.DoesNotContain("other", adapters.Used);
        var (s3, _) = await h.PostAsync("/v1/completions", new { model = "tiny", prompt = "hi", max_tokens = 2 });
        Assert.Equal(200, s3);
        Assert.Null(adapters.Used[^1]);
        // Embeddings come from the base alone: naming an adapter there is a 400 naming model.
        var (s4, e4) = await h.PostAsync("/v1/embeddings", new { model = "tuned", input = "hi" });
        Assert.Equal(400, s4);
        Assert.Equal("model", e4.GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task An_unknown_model_is_404_model_not_found_everywhere()
    {
        await using var h = await ServerHarness.StartAsync();
        var messages = new[] { new { role = "user", content = "hi" } };
        foreach (var (status, body) in new[]
        {
            await h.GetAsync("/v1/models/gpt-4o"),
            await h.PostAsync("/v1/chat/completions", new { model = "gpt-4o", messages }),
            await h.PostAsync("/v1/completions", new { model = "gpt-4o", prompt = "hi" }),
            await h.PostAsync("/v1/embeddings", new { model = "gpt-4o", input = "hi" }),
        })
        {
            Assert.Equal(404, status);
            var error = body.GetProperty("error");
            Assert.Equal("model_not_found", error.GetProperty("code").GetString());
            Assert.Equal("model", error.GetProperty("param").GetString());
            Assert.Contains("gpt-4o", error.GetProperty("message").GetString());
        }
    }

    [Fact]
    public async Task Health_is_503_until_the_model_serves_then_200()
    {
        await using var server = await LatheServer.StartAsync(new ServerOptions { Port = 0, ModelName = "tiny" }, _ => { });
        using var http = new HttpClient { BaseAddress = server.Address };
        using (var loading = await http.GetAsync("/health"))
        {
            Assert.Equal(503, (int)loading.StatusCode);
            Assert.Equal("loading", JsonDocument.Parse(await loading.Content.ReadAsStringAsync()).RootElement.GetProperty("status").GetString());
        }
        using (var early = await http.PostAsync("/v1/chat/completions", new StringContent("""{"messages":[{"role":"user","content":"hi"}]}""")))
        {
            Assert.Equal(503, (int)early.StatusCode);
            Assert.Equal("model_loading", JsonDocument.Parse(await early.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString());
        }
        using var model = TinyModel.Create();
        using var engine = new InferenceEngine(model);
        server.Serve(engine);
        using var ready = await http.GetAsync("/health");
        Assert.Equal(200, (int)ready.StatusCode);
        Assert.Equal("""{"status":"ok"}""", await ready.Content.ReadAsStringAsync());
        Assert.Equal(["tiny"], server.ModelIds);
    }

    [Fact]
    public async Task An_encoder_decoder_is_refused_for_generation_400_and_embeddings_501_never_500()
    {
        var t5 = new Lathe.Models.ModelConfig
        {
            ModelType = "t5", VocabSize = TinyModel.Vocab, MaxPositions = 64, Embd = 32, DKv = 8, Heads = 4, KvHeads = 4, Intermediate = 64,
            Layers = 1, DecoderLayers = 1, RelativeBuckets = 16, RelativeMaxDistance = 32, NormEps = 1e-6f, EosTokenId = 1,
        };
        var model = new LoadedModel(Lathe.Models.LanguageModel.Create(t5, 1), TinyModel.Tokenizer, "t5-tiny");
        await using var h = await ServerHarness.StartAsync(model: model);
        var (s1, e1) = await h.PostAsync("/v1/chat/completions", new { messages = new[] { new { role = "user", content = "hi" } } });
        Assert.Equal(400, s1);
        Assert.Equal("model", e1.GetProperty("error").GetProperty("param").GetString());
        var (s2, e2) = await h.PostAsync("/v1/embeddings", new { input = "the whale" });
        Assert.Equal(501, s2);
        Assert.Equal("not_implemented", e2.GetProperty("error").GetProperty("code").GetString());
        Assert.StartsWith("embeddings: ", e2.GetProperty("error").GetProperty("message").GetString());
        Assert.Empty(h.Log);
    }

    [Fact]
    public async Task An_adapter_named_like_the_base_is_refused_at_start()
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() => ServerHarness.StartAsync(adapters: new RecordingAdapters("tiny")));
        Assert.Contains("'tiny'", e.Message);
    }
}
