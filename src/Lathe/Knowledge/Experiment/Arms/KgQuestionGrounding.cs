using Lathe.Knowledge.Claims;
using Lathe.Knowledge.Grounding;
using Lathe.Tokenizers;

namespace Lathe.Knowledge.Experiment.Arms;

/// <summary>The experiment's grounding over a real graph: retrieval prompts (<see cref="RetrievalPrompt"/>), the
/// constrained plan (<see cref="KgGrounding"/>) and claim checking (<see cref="ClaimChecker"/>).</summary>
/// <remarks>The retrieved facts are budgeted with <see cref="ExperimentPrompts.ApproxTokens"/>, not the model's
/// tokenizer, so the retrieval prompt of a question is the same text for every model and the same text the QA tuning
/// data taught (<c>kg questions</c> writes that data before any tokenizer exists). The constrained arm asks the model
/// that same prompt, with the plan's constraint.</remarks>
public sealed class KgQuestionGrounding : IQuestionGrounding
{
    readonly IKnowledgeGraph _graph;
    readonly KgGrounding? _grounding;
    readonly QuestionReader _reader;
    readonly ClaimChecker _checker;
    readonly int _factBudget;

    /// <param name="tokenizer">The model's tokenizer, which spells the constrained answers; null when only retrieval
    /// prompts are needed (<c>kg questions</c>).</param>
    /// <param name="stopTokens">Ids that may end a constrained answer (end of sequence, end of turn).</param>
    /// <param name="factBudget">The retrieved facts' budget in <see cref="ExperimentPrompts.ApproxTokens"/>.</param>
    public KgQuestionGrounding(IKnowledgeGraph graph, ITokenizer? tokenizer, IReadOnlyCollection<int> stopTokens, int factBudget)
    {
        if (factBudget < 0) throw new ArgumentException($"fact budget {factBudget} must be 0 or more");
        _graph = graph;
        _factBudget = factBudget;
        var linker = new EntityLinker(graph);
        _reader = new QuestionReader(graph, linker);
        _checker = new ClaimChecker(graph, linker);
        if (tokenizer is not null) _grounding = new KgGrounding(graph, tokenizer, stopTokens, factBudget);
    }

    public string RetrievalPrompt(string question) =>
        Grounding.RetrievalPrompt.Build(_graph, _reader, question, ExperimentPrompts.ApproxTokens, _factBudget);

    public ConstrainedPlan Plan(string question)
    {
        var grounding = _grounding ?? throw new InvalidOperationException("the constrained arm needs the model's tokenizer");
        var plan = grounding.Plan(question, GroundingMode.Constrain);
        return plan.AbstainNow ? new ConstrainedPlan(plan.Prompt, null, true, plan.Reason)
            : new ConstrainedPlan(RetrievalPrompt(question), plan.Constraint, false, plan.Reason);
    }

    public AnswerCheck Check(string question, string answer)
    {
        var verdict = _checker.CheckAnswer(question, answer);
        if (verdict is not null) return verdict.Status == ClaimStatus.Contradicted ? AnswerCheck.Contradicted : AnswerCheck.Keep;
        // No verdict: the answer abstains, or the question's subject or relation was not read. A subject that links to
        // no entity at all is one the graph lacks, and nothing can back an answer about it.
        var reading = _reader.Read(question);
        return reading.Subject is null || reading.Subject.Candidates.Count == 0 ? AnswerCheck.UnknownEntity : AnswerCheck.Keep;
    }
}
