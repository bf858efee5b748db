using Lathe.Data;
using Lathe.Formats;
using Lathe.Inference;

namespace Lathe.Evaluation;

/// <summary>One scored conversation: the reference answer, the model's greedy answer, and whether they match.</summary>
public sealed record ExactMatchItem(string Source, string Expected, string Answer, bool Correct);

/// <summary>Exact-match accuracy of greedy answers: <see cref="Correct"/> of <see cref="Total"/>.</summary>
public sealed record ExactMatchResult(int Correct, int Total, IReadOnlyList<ExactMatchItem> Items)
{
    public double Accuracy => Total == 0 ? 0 : (double)Correct / Total;
}

/// <summary>Asks a chat model held-out questions and compares its greedy answers with the references, normalised
/// (<see cref="Normalize"/>): the measure of the shipped instruction set, whose answers are short and exact.</summary>
public static class ExactMatch
{
    /// <summary>Greedy answers (temperature 0) to each conversation's prompt — every message but the last, which is
    /// the reference answer — rendered by <paramref name="template"/> and encoded as inference encodes prompts
    /// (<see cref="LoadedModel.Encode"/>); an answer ends at the model's stop ids, the template's end-of-turn tokens
    /// or strings, or after <paramref name="maxTokens"/> tokens.</summary>
    /// <exception cref="ArgumentException">A conversation that does not end with the assistant's answer, or a prompt
    /// longer than the context (named by its source).</exception>
    /// <param name="promptRows">Prompt tuning's trained rows, put before every prompt (see <see cref="Generator"/>).</param>
    public static ExactMatchResult Evaluate(LoadedModel model, ChatTemplate template, IEnumerable<ChatConversation> conversations, int maxTokens = 32,
        Lathe.Tensors.Tensor? promptRows = null)
    {
        var stopTokens = new HashSet<int>(model.StopIds);
        foreach (string end in template.EndOfTurn)
            if (model.SpecialId(end) is int id) stopTokens.Add(id);
        if (model.SpecialId(template.TurnEnd) is int turnEnd) stopTokens.Add(turnEnd);
        string[] stopStrings = [.. template.EndOfTurn, template.TurnEnd];
        var greedy = new SamplingOptions { Temperature = 0 };
        var items = new List<ExactMatchItem>();
        using var generator = new Generator(model.Decoder, promptRows);   // one cache: prompts sharing a prefix reuse it
        foreach (var c in conversations)
        {
            if (c.Messages.Count < 2 || c.Messages[^1].Role != "assistant")
                throw new ArgumentException($"exact match: {c.Source}: the conversation must end with the assistant's answer");
            int[] prompt = model.Encode(template.Render(c.Messages.Take(c.Messages.Count - 1).ToList()));
            if (prompt.Length >= model.Model.Config.MaxPositions)
                throw new ArgumentException($"exact match: {c.Source}: the prompt has {prompt.Length} tokens, the context is {model.Model.Config.MaxPositions}");
            var text = new TextStreamer(model.Tokenizer, stopStrings);
            foreach (int token in generator.Generate(prompt, maxTokens, greedy, stopTokens))
            {
                text.Push(token);
                if (text.Stopped) break;
            }
            text.Flush();
            string expected = c.Messages[^1].Content;
            items.Add(new ExactMatchItem(c.Source, expected, text.Text, Normalize(text.Text) == Normalize(expected)));
        }
        return new ExactMatchResult(items.Count(i => i.Correct), items.Count, items);
    }

    /// <summary>The form answers are compared in: surrounding whitespace trimmed, lower case (invariant culture), one
    /// final period removed ("Paris." = "paris" = " Paris").</summary>
    public static string Normalize(string answer)
    {
        string s = answer.Trim().ToLowerInvariant();
        if (s.EndsWith('.')) s = s[..^1].TrimEnd();
        return s;
    }
}
