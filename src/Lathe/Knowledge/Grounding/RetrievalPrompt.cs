namespace Lathe.Knowledge.Grounding;

/// <summary>The retrieval arm's prompt: the facts the graph holds on the question's subject, as sentences
/// (<see cref="FactText.Statement"/>), the asked relation's facts first, within a token budget, before the question
/// (<see cref="GroundedPrompt.Format"/>).</summary>
public static class RetrievalPrompt
{
    /// <summary>The facts for <paramref name="reading"/>: of its entity, or of every candidate when the subject is
    /// ambiguous; the asked relation's first, then the others in the graph's order. A fact is kept when its line
    /// ("- sentence\n", counted with <paramref name="countTokens"/>) still fits in <paramref name="budget"/> tokens;
    /// one that does not is skipped and smaller ones after it may still fit.</summary>
    public static IReadOnlyList<string> Facts(IKnowledgeGraph g, QuestionReading reading, Func<string, int> countTokens, int budget)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(reading);
        ArgumentNullException.ThrowIfNull(countTokens);
        if (budget < 0) throw new ArgumentException($"budget: {budget} tokens must be ≥ 0.");
        var subjects = reading.Entity is { } e ? [e] : reading.Subject?.Candidates ?? [];
        string? asked = reading.Relation?.Id;
        var ordered = new List<Triple>();
        if (asked is not null)
            foreach (var s in subjects) ordered.AddRange(g.Match(s.Id, asked, null));
        foreach (var s in subjects)
            foreach (var t in g.Match(s.Id, null, null))
                if (t.Relation != asked) ordered.Add(t);
        var facts = new List<string>();
        int used = 0;
        foreach (var t in ordered)
        {
            if (g.FindRelation(t.Relation) is null) continue;   // a fact of an undeclared relation has no sentence
            string sentence = FactText.Statement(g, t);
            int cost = countTokens("- " + sentence + "\n");
            if (used + cost > budget) continue;
            used += cost;
            facts.Add(sentence);
        }
        return facts;
    }

    /// <summary>The prompt for <paramref name="question"/>: its subject's facts (<see cref="Facts"/>), then the question.</summary>
    public static string Build(IKnowledgeGraph g, QuestionReader reader, string question, Func<string, int> countTokens, int budget) =>
        GroundedPrompt.Format(question, Facts(g, reader.Read(question), countTokens, budget));
}
