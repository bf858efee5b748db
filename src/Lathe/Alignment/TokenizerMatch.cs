using Lathe.Inference;

namespace Lathe.Alignment;

/// <summary>Whether two models read token ids the same way — a reward model or judge scoring a policy's ids must.</summary>
public static class TokenizerMatch
{
    // Text that exercises words, digits, punctuation, whitespace runs and non-ASCII characters.
    const string Probe = "The capital of France is Paris. 17 + 25 = 42!\n  I can't help with that — ça va? 日本";

    /// <summary>Throws a one-line error naming <paramref name="otherPath"/> when <paramref name="other"/>'s vocabulary
    /// size or its encoding of a probe text differs from <paramref name="policy"/>'s.</summary>
    public static void Require(LoadedModel policy, LoadedModel other, string otherPath)
    {
        if (policy.Tokenizer.VocabSize != other.Tokenizer.VocabSize || !policy.Encode(Probe).AsSpan().SequenceEqual(other.Encode(Probe)))
            throw new InvalidDataException($"{otherPath}: its tokenizer differs from the policy's (vocabulary {other.Tokenizer.VocabSize} vs {policy.Tokenizer.VocabSize}); a reward model must share the policy's tokenizer");
    }
}
