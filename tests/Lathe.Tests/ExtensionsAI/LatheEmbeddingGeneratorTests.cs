using Lathe.Extensions.AI;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tests.Inference;
using Lathe.Tuning;
using Microsoft.Extensions.AI;

namespace Lathe.Tests.ExtensionsAI;

/// <summary>The <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> over the engine, driven through the abstraction
/// only: vectors exactly the <see cref="Embedder"/>'s for the model's tokenization of each text (the Embedder itself is
/// checked against PyTorch in EmbedderTests), unit length, usage, metadata and errors; from a decoder and from BERT.</summary>
public sealed class LatheEmbeddingGeneratorTests
{
    static readonly string[] Texts = ["The cat sat.", "A much longer sentence about dogs and their owners.", "x"];

    static void AssertEmbedderVectors(LoadedModel model, GeneratedEmbeddings<Embedding<float>> embeddings, EmbeddingPooling pooling)
    {
        var expected = Embedder.Embed(model.Model, Texts.Select(t => model.Encode(t, parseSpecial: false)).ToArray(), pooling);
        Assert.Equal(Texts.Length, embeddings.Count);
        for (int i = 0; i < Texts.Length; i++)
        {
            Assert.True(expected[i].AsSpan().SequenceEqual(embeddings[i].Vector.Span), $"embedding {i} differs from the Embedder's");
            double norm = Math.Sqrt(embeddings[i].Vector.ToArray().Sum(x => (double)x * x));
            Assert.Equal(1.0, norm, 5);
        }
    }

    [Fact]
    public async Task A_decoders_embeddings_are_the_Embedders_with_usage_and_metadata()
    {
        using var model = new LoadedModel(CausalLM.Create(LatheChatClientTests.Config, 5), LatheChatClientTests.Ascii, "/models/tiny-embed");
        using var engine = new InferenceEngine(model);
        IEmbeddingGenerator<string, Embedding<float>> generator = new LatheEmbeddingGenerator(engine);
        var embeddings = await generator.GenerateAsync(Texts);
        AssertEmbedderVectors(model, embeddings, EmbeddingPooling.Mean);
        Assert.Equal(Texts.Sum(t => t.Length), embeddings.Usage!.InputTokenCount);   // one token per byte here
        Assert.Equal(embeddings.Usage.InputTokenCount, embeddings.Usage.TotalTokenCount);
        Assert.All(embeddings, e => Assert.Equal("tiny-embed", e.ModelId));
        Assert.All(embeddings, e => Assert.Equal(128, e.Dimensions));

        var metadata = generator.GetService<EmbeddingGeneratorMetadata>();
        Assert.NotNull(metadata);
        Assert.Equal("lathe", metadata.ProviderName);
        Assert.Equal("tiny-embed", metadata.DefaultModelId);
        Assert.Equal(128, metadata.DefaultModelDimensions);
        Assert.Same(engine, generator.GetService<InferenceEngine>());

        // One text through the extension method: the same vector as in the batch.
        var one = await generator.GenerateVectorAsync(Texts[1]);
        Assert.True(one.Span.SequenceEqual(embeddings[1].Vector.Span));
        Assert.Empty(await generator.GenerateAsync([]));
    }

    [Fact]
    public async Task Bert_embeds_with_the_pooling_its_sentence_transformers_folder_states()
    {
        string dir = Path.Combine(Path.GetTempPath(), "lathe-st-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(dir, "1_Pooling"));
        try
        {
            File.WriteAllText(Path.Combine(dir, "1_Pooling", "config.json"), """{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}""");
            var config = ModelConfig.FromPresetOrFile("bert-tiny");
            using var model = new LoadedModel(LanguageModel.Create(config, 3), new ToyTokenizer(config.VocabSize,
                s => s.Select(c => c % (config.VocabSize - 4)).ToArray(), id => [(byte)('a' + id % 26)]), dir);
            using var engine = new InferenceEngine(model);
            IEmbeddingGenerator<string, Embedding<float>> generator = new LatheEmbeddingGenerator(engine, modelId: "st-bert");
            AssertEmbedderVectors(model, await generator.GenerateAsync(Texts), EmbeddingPooling.Cls);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public async Task Embeddings_come_from_the_base_even_after_a_request_ran_with_an_adapter()
    {
        string dir = Path.Combine(Path.GetTempPath(), "lathe-embed-lora-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var scratch = CausalLM.Create(LatheChatClientTests.Config, 5))
            using (var lora = LoraMethod.Attach(scratch, new LoraConfig { Rank = 4, Alpha = 16, TargetModules = ["q_proj", "v_proj"], InitLoraWeights = "false" }, seed: 2))
                lora.Save(dir);
            using var model = new LoadedModel(CausalLM.Create(LatheChatClientTests.Config, 5), LatheChatClientTests.Ascii);
            using var adapters = new AdapterSet(model.Model);
            adapters.Add("tuned", dir);
            using var engine = new InferenceEngine(model, adapters: adapters);
            await engine.Submit(new GenerationRequest { Prompt = [65, 66, 67], MaxTokens = 3, Adapter = "tuned" }).CollectAsync();
            Assert.Equal("tuned", adapters.Active);   // the decode step left its adapter on
            IEmbeddingGenerator<string, Embedding<float>> generator = new LatheEmbeddingGenerator(engine);
            AssertEmbedderVectors(model, await generator.GenerateAsync(Texts), EmbeddingPooling.Mean);   // with no adapter active
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public async Task Bad_options_and_inputs_are_one_line_errors()
    {
        using var model = new LoadedModel(CausalLM.Create(LatheChatClientTests.Config, 5), LatheChatClientTests.Ascii, "/models/tiny-embed");
        using var engine = new InferenceEngine(model);
        IEmbeddingGenerator<string, Embedding<float>> generator = new LatheEmbeddingGenerator(engine);
        var dims = await Assert.ThrowsAsync<ArgumentException>(() => generator.GenerateAsync(Texts, new EmbeddingGenerationOptions { Dimensions = 64 }));
        Assert.Equal("EmbeddingGenerationOptions.Dimensions: 64, but the model's embeddings have 128.", dims.Message);
        var other = await Assert.ThrowsAsync<ArgumentException>(() => generator.GenerateAsync(Texts, new EmbeddingGenerationOptions { ModelId = "text-embedding-3-small" }));
        Assert.StartsWith("EmbeddingGenerationOptions.ModelId: 'text-embedding-3-small'", other.Message);
        var empty = await Assert.ThrowsAsync<ArgumentException>(() => generator.GenerateAsync(["fine", ""]));
        Assert.StartsWith("input[1]", empty.Message);
        var tooLong = await Assert.ThrowsAsync<ArgumentException>(() => generator.GenerateAsync([new string('y', 400)]));
        Assert.StartsWith("input[0]: 400 tokens", tooLong.Message);
    }
}
