using Lathe.Tokenizers;

namespace Lathe.Cli;

/// <summary>The tokenizer the data verbs use: a tokenizer.json path, or the default (GPT-2) when null.</summary>
/// <remarks>Placeholder on the data branch: the tokenizer pipeline lives on main, where this method loads
/// tokenizer.json / GPT-2 at merge.</remarks>
internal static class DefaultTokenizer
{
    public static ITextEncoder Load(string? path) => throw new UserInputException("tokenizer not available in this branch");
}
