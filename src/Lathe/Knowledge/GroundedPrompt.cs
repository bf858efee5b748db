namespace Lathe.Knowledge;

/// <summary>The one prompt format for questions, with and without facts from the graph. The question-answering data a
/// model is tuned on, the retrieval arm, <c>generate/chat/serve --kg</c> and the hallucination experiment all build
/// prompts here, so a model tuned on one reads the others the same way.</summary>
/// <example>
/// <code>
/// Facts:
/// - The capital of France is Paris.
/// - France borders Spain.
/// Question: What is the capital of France?
/// Answer: Paris
/// </code>
/// Without facts the prompt is only the last two lines' "Question: …\nAnswer:".
/// </example>
public static class GroundedPrompt
{
    /// <summary>What a grounded model answers when it has nothing to go on; abstention is recognised by it.</summary>
    public const string Abstain = "I don't know.";

    /// <summary>Marks the end of an answer (answers are one line).</summary>
    public const string AnswerEnd = "\n";

    /// <summary>The prompt for <paramref name="question"/>, with <paramref name="facts"/> (sentences) before it when
    /// there are any; the model's answer follows "Answer:" after one space.</summary>
    public static string Format(string question, IReadOnlyList<string>? facts = null)
    {
        var text = new System.Text.StringBuilder();
        if (facts is { Count: > 0 })
        {
            text.Append("Facts:\n");
            foreach (var fact in facts) text.Append("- ").Append(fact).Append('\n');
        }
        text.Append("Question: ").Append(question).Append("\nAnswer:");
        return text.ToString();
    }

    /// <summary>True when an answer abstains (the abstention sentence, ignoring case, spacing and final punctuation).</summary>
    public static bool IsAbstention(string answer) => NameKey.Of(answer) == NameKey.Of(Abstain);
}
