using System.Globalization;
using Lathe.Inference;
using Lathe.Inference.Constraints;
using Lathe.Tokenizers;

namespace Lathe.Knowledge.Grounding;

/// <summary>KG-constrained decoding: the answer is exactly one of the graph's objects for the asked (subject,
/// relation) — or <see cref="GroundedPrompt.Abstain"/> when abstaining is allowed — then
/// <see cref="GroundedPrompt.AnswerEnd"/> or a stop token. The answers become a byte grammar (one alternative each,
/// after at most one space, since the prompt ends in "Answer:" and byte-level vocabularies spell " Paris" as one
/// token) and the vocabulary is masked through the same <see cref="TokenMasker"/> and <see cref="TokenTrie"/> the
/// JSON-schema constraint uses, and each sequence follows it with the same grammar processor, so it plugs in wherever
/// that does (<see cref="GenerationRequest.Constraint"/>); the processor is complete once the answer's line end is out.</summary>
public static class KgAnswerConstraint
{
    /// <summary>A factory of processors (one per sequence, sharing the compiled grammar and its masks).</summary>
    /// <param name="vocab">The model's tokenizer.</param>
    /// <param name="answers">The allowed answers, as written (<see cref="FactText.ObjectText"/>).</param>
    /// <param name="stopTokens">Ids that end the sequence (EOS, end of turn): allowed once an answer is complete.</param>
    /// <param name="allowAbstain">Also allow <see cref="GroundedPrompt.Abstain"/>.</param>
    /// <exception cref="ArgumentException">No answer to allow.</exception>
    public static Func<ILogitsProcessor> For(ITokenizer vocab, IReadOnlyList<string> answers, IReadOnlyCollection<int> stopTokens, bool allowAbstain)
    {
        ArgumentNullException.ThrowIfNull(vocab);
        ArgumentNullException.ThrowIfNull(answers);
        ArgumentNullException.ThrowIfNull(stopTokens);
        var texts = answers.Where(a => !string.IsNullOrEmpty(a)).ToList();
        if (allowAbstain) texts.Add(GroundedPrompt.Abstain);
        texts = texts.Distinct(StringComparer.Ordinal).ToList();
        if (texts.Count == 0) throw new ArgumentException("answers: no answer to constrain to (and abstaining is not allowed).");
        var masker = new TokenMasker(Compile(texts), TokenTrie.For(vocab), stopTokens);
        return () => new GrammarLogitsProcessor(masker);
    }

    /// <summary>The ways a number object may be written: as <see cref="FactText.ObjectText"/> gives it ("551695"), and
    /// with thousands separators ("551,695") when it has more than four digits before the point.</summary>
    public static IReadOnlyList<string> NumberForms(string objectText)
    {
        var forms = new List<string> { objectText };
        if (double.TryParse(objectText, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && Math.Abs(value) >= 10000)
        {
            int point = objectText.IndexOf('.');
            string decimals = point < 0 ? "" : objectText[point..];
            string whole = Math.Truncate(value).ToString("#,0", CultureInfo.InvariantCulture);
            forms.Add(whole + decimals);
        }
        return forms.Distinct(StringComparer.Ordinal).ToList();
    }

    // root := " "? (answer₁ | answer₂ | …) "\n"?
    internal static Grammar Compile(IReadOnlyList<string> answers)
    {
        var b = new GrammarBuilder();
        int space = b.Optional("space", [Symbol.Set(ByteSet.Of((byte)' '))]);
        int answer = b.Rule("answer", answers.Select(Symbol.Text).ToArray());
        int end = b.Optional("end", Symbol.Text(GroundedPrompt.AnswerEnd));
        return b.Build(b.Rule("root", [Symbol.Ref(space), Symbol.Ref(answer), Symbol.Ref(end)]));
    }
}
