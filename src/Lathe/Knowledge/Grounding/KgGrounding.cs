using Lathe.Inference;
using Lathe.Tokenizers;

namespace Lathe.Knowledge.Grounding;

/// <summary>How a question is grounded: facts in the prompt, the answer constrained to the graph's objects, or both.</summary>
public enum GroundingMode { Retrieve, Constrain, Both }

/// <summary>What to do for one question. <see cref="AbstainNow"/>: answer <see cref="GroundedPrompt.Abstain"/> without
/// asking the model (<see cref="Reason"/> says why). Otherwise generate from <see cref="Prompt"/>, under
/// <see cref="Constraint"/> when there is one. <see cref="Reason"/> also notes a partial reading (ambiguous subject,
/// no relation recognised) that was still answered.</summary>
public sealed record GroundingPlan(string Prompt, Func<ILogitsProcessor>? Constraint, bool AbstainNow, string? Reason, QuestionReading Reading)
{
    /// <summary>The fact sentences <see cref="Prompt"/> holds (empty for Constrain and abstentions); a chat server puts
    /// them in a system message instead.</summary>
    public IReadOnlyList<string> Facts { get; init; } = [];
}

/// <summary>Grounding for one graph and one model's vocabulary: reads a question (<see cref="QuestionReader"/>) and
/// plans its answer. Built once (the linker indexes every name) and used for every question; thread-safe to plan from
/// several threads once built.</summary>
public sealed class KgGrounding
{
    readonly IKnowledgeGraph _graph;
    readonly ITokenizer _tokenizer;
    readonly IReadOnlyCollection<int> _stopTokens;
    readonly int _budget;

    /// <param name="g">The graph.</param>
    /// <param name="tokenizer">The model's tokenizer: it counts the facts' tokens and spells the constrained answers.</param>
    /// <param name="stopTokens">The ids that end a sequence (EOS, end of turn); a constrained answer may end on them.</param>
    /// <param name="factBudgetTokens">Tokens the retrieved facts may take in a prompt.</param>
    /// <param name="linker">A linker already built over <paramref name="g"/> (a claim checker's), or null to build one.</param>
    public KgGrounding(IKnowledgeGraph g, ITokenizer tokenizer, IReadOnlyCollection<int> stopTokens, int factBudgetTokens = 256, EntityLinker? linker = null)
    {
        _graph = g ?? throw new ArgumentNullException(nameof(g));
        _tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        _stopTokens = stopTokens ?? throw new ArgumentNullException(nameof(stopTokens));
        if (factBudgetTokens < 0) throw new ArgumentException($"fact budget: {factBudgetTokens} tokens must be ≥ 0.");
        _budget = factBudgetTokens;
        Linker = linker ?? new EntityLinker(g);
        Reader = new QuestionReader(g, Linker);
    }

    /// <summary>Whether a question whose subject links only fuzzily ("Franse") is answered. Off by default: a name
    /// the graph does not hold is often one edit from one it does (an invented "Neport" is "Newport" by one letter), and
    /// answering it would turn an unanswerable question into a confident wrong answer; the plan abstains instead.</summary>
    public bool AnswerFuzzySubjects { get; init; }

    public EntityLinker Linker { get; }
    public QuestionReader Reader { get; }

    /// <summary>Tokens of <paramref name="text"/> as the model reads it inside a prompt.</summary>
    public int CountTokens(string text)
    {
        var ids = new List<int>();
        _tokenizer.Encode(text, ids);
        return ids.Count;
    }

    /// <summary>The plan for <paramref name="question"/>. Abstains outright when the question names no entity of the
    /// graph (a subject matched only by spelling counts as none unless <see cref="AnswerFuzzySubjects"/>), or when the
    /// graph holds no fact for the (entity, relation) it asks. Retrieve puts the subject's facts
    /// before the question; Constrain restricts the answer to the graph's objects for (subject, relation) (every
    /// candidate's when the subject is ambiguous, then abstaining is allowed too); Both does both.</summary>
    public GroundingPlan Plan(string question, GroundingMode mode) => Plan(question, mode, int.MaxValue);

    /// <summary><see cref="Plan(string, GroundingMode)"/> with the facts held to at most <paramref name="maxFactTokens"/>
    /// tokens as well as the budget given at construction: what room a model's context leaves (<see cref="FactRoom"/>).</summary>
    public GroundingPlan Plan(string question, GroundingMode mode, int maxFactTokens)
    {
        ArgumentNullException.ThrowIfNull(question);
        var reading = Reader.Read(question);
        string bare = GroundedPrompt.Format(question);
        if (reading.Subject is null || reading.Subject.Candidates.Count == 0)
            return new GroundingPlan(bare, null, true, reading.Problem ?? "the question names no entity of the graph", reading);
        if (reading.Subject.Kind == LinkKind.Fuzzy && !AnswerFuzzySubjects)
            return new GroundingPlan(bare, null, true, $"'{reading.Subject.Text}' is not an entity of the graph (nearest by spelling: "
                + string.Join(" | ", reading.Subject.Candidates.Take(3).Select(c => c.Name)) + ")", reading);
        var subjects = reading.Entity is { } e ? [e] : reading.Subject.Candidates;
        List<Triple> asked = [];
        if (reading.Relation is { } relation)
        {
            foreach (var s in subjects) asked.AddRange(_graph.Match(s.Id, relation.Id, null));
            if (asked.Count == 0)
                return new GroundingPlan(bare, null, true,
                    $"the graph has no {relation.Label} for {string.Join(" | ", subjects.Select(s => s.Name))}", reading);
        }
        var facts = mode == GroundingMode.Constrain ? [] : RetrievalPrompt.Facts(_graph, reading, CountTokens, Math.Max(0, Math.Min(_budget, maxFactTokens)));
        Func<ILogitsProcessor>? constraint = null;
        if (mode != GroundingMode.Retrieve && asked.Count > 0)
            constraint = KgAnswerConstraint.For(_tokenizer, Answers(asked), _stopTokens, allowAbstain: reading.Entity is null);
        return new GroundingPlan(GroundedPrompt.Format(question, facts), constraint, false, reading.Problem, reading) { Facts = facts };
    }

    /// <summary>The fact tokens that fit when <paramref name="question"/>'s grounded prompt must leave
    /// <paramref name="generateTokens"/> of a <paramref name="context"/>-token window: the window, less the bare prompt,
    /// the "Facts:" header, the answer, and a few tokens of slack (facts are counted one line at a time, and a
    /// tokenizer may merge across lines). Never negative.</summary>
    public int FactRoom(string question, int context, int generateTokens) =>
        Math.Max(0, context - generateTokens - CountTokens(GroundedPrompt.Format(question)) - CountTokens("Facts:\n") - 4);

    // Every way an object of the asked facts may be written.
    List<string> Answers(IEnumerable<Triple> facts)
    {
        var answers = new List<string>();
        foreach (var t in facts)
        {
            string text = FactText.ObjectText(_graph, t.Object);
            if (t.Object.Kind == TermKind.Number) answers.AddRange(KgAnswerConstraint.NumberForms(text));
            else answers.Add(text);
        }
        return answers.Distinct(StringComparer.Ordinal).ToList();
    }
}
