using Lathe.Evaluation.Scaling;
using Lathe.Models;

namespace Lathe.Tests.Evaluation.Scaling;

/// <summary>The closed-form non-embedding count against the parameters a built model actually holds.</summary>
public class NonEmbeddingParametersTests
{
    static readonly string[] Embeddings = ["wte", "wpe", "embed_tokens", "lm_head"];

    [Theory]
    [InlineData("gpt2-tiny")]
    [InlineData("S")]
    [InlineData("llama-tiny")]
    public void The_closed_form_matches_the_built_models_parameters_without_embeddings(string preset)
    {
        var config = ModelConfig.FromPresetOrFile(preset);
        using var model = LanguageModel.Create(config, 1);
        long built = model.Parameters.Where(p => !Embeddings.Any(e => p.Name.Contains(e))).Sum(p => (long)p.Value.Length);
        Assert.Equal(built, NonEmbeddingParameters.Count(config));
        Assert.True(built < model.ParameterCount);
    }

    [Fact]
    public void A_mixture_of_experts_config_is_refused_by_name()
    {
        var e = Assert.Throws<ArgumentException>(() => NonEmbeddingParameters.Count(ModelConfig.FromPresetOrFile("gpt2-moe-tiny")));
        Assert.Contains("num_local_experts", e.Message);
    }
}
