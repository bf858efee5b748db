using Lathe.Cli.Verbs;
using Lathe.Tokenizers;

namespace Lathe.Cli;

/// <summary>The tokenizer the data verbs use: a tokenizer.json path, or GPT-2's own vocabulary when null.</summary>
internal static class DefaultTokenizer
{
    public static ITextEncoder Load(string? path) => TokenizerVerb.Load(path ?? "gpt2");
}
