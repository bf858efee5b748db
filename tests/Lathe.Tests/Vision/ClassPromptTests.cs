using Lathe.Vision.Data;
using Lathe.Vision.Diffusion;

namespace Lathe.Tests.Vision;

/// <summary>Prompts name Fashion-MNIST classes by their names and plain synonyms; the longest phrase wins; an unknown
/// prompt is an error that lists the classes.</summary>
public class ClassPromptTests
{
    [Theory]
    [InlineData("a sneaker", 7)]
    [InlineData("Sneakers!", 7)]
    [InlineData("an ankle boot", 9)]
    [InlineData("a pair of boots", 9)]
    [InlineData("a T-shirt", 0)]
    [InlineData("a shirt", 6)]
    [InlineData("trousers", 1)]
    [InlineData("blue jeans", 1)]
    [InlineData("a warm sweater", 2)]
    [InlineData("a handbag", 8)]
    [InlineData("Dress", 3)]
    [InlineData("a coat", 4)]
    [InlineData("sandals", 5)]
    public void Names_and_synonyms_match_their_class(string prompt, int label) =>
        Assert.Equal(label, ClassPrompt.Match(prompt, FashionMnist.ClassNames));

    [Fact]
    public void Unknown_prompt_lists_the_classes()
    {
        var e = Assert.Throws<ArgumentException>(() => ClassPrompt.Match("a bicycle", FashionMnist.ClassNames));
        Assert.Contains("--prompt \"a bicycle\"", e.Message);
        Assert.Contains("Ankle boot", e.Message);
        Assert.Contains("T-shirt/top", e.Message);
    }
}
