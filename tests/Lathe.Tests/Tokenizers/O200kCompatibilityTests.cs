using Lathe.IO;
using Lathe.Tokenizers;

namespace Lathe.Tests.Tokenizers;

/// <summary>o200k_base (tiktoken's ranks from its npm package, our hand-written emulation of its backtracking split
/// pattern) id for id against tiktoken itself (fixtures/make-tiktoken-fixtures.mjs): letter case, marks, modifier and
/// other letters, contractions and slashes are where this pattern differs from cl100k's.</summary>
public class O200kCompatibilityTests
{
    static readonly Lazy<Tokenizer> O200k = new(() => TiktokenRanks.O200kFromNodeModules(NodeModules.Find()));

    [Fact]
    public void Adversarial_text_matches_tiktoken() => TiktokenFixture.CheckAdversarial("o200k-fixtures.json", O200k.Value);

    [Fact]
    public void Moby_Dick_matches_tiktoken_id_for_id() => TiktokenFixture.CheckMobyDick("o200k-fixtures.json", O200k.Value);

    [Theory]
    [InlineData("CamelCase", new[] { "Camel", "Case" })]
    [InlineData("HTTPServer", new[] { "HTTPServer" })]
    [InlineData("XMLHttpRequest", new[] { "XMLHttp", "Request" })]
    [InlineData(" don'T", new[] { " don'T" })]
    [InlineData("a\u0301B", new[] { "a\u0301", "B" })]
    [InlineData("x //\n\nz", new[] { "x", " //\n\n", "z" })]
    public void The_split_follows_the_patterns_backtracking(string text, string[] pieces)
    {
        var spans = new List<PreToken>();
        O200kPreTokenizer.Instance.Split(text, spans);
        Assert.Equal(pieces, spans.Select(p => text.Substring(p.Start, p.Length)));
    }
}
