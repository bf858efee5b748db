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
        if (plan.AbstainNow) return new ConstrainedPlan(plan.Prompt, null, true, plan.Reason);
        // No relation read: nothing to constrain to, and every experiment question asks for one — abstain.
        if (plan.Reading.Relation is null) return new ConstrainedPlan(plan.Prompt, null, true, plan.Reason ?? "no relation of the graph is asked for");
        return new ConstrainedPlan(RetrievalPrompt(question), plan.Constraint, false, plan.Reason);
    }

    public AnswerCheck Check(string question, string answer)
    {
        var verdict = _checker.CheckAnswer(question, answer);
        if (verdict is not null)
            return verdict.Status switch { ClaimStatus.Contradicted => AnswerCheck.Contradicted, ClaimStatus.Unknown => AnswerCheck.Unbacked, _ => AnswerCheck.Keep };
        // No verdict: the answer abstains, or the question's subject or relation was not read. A subject that links to
        // no entity at all is one the graph lacks (the reader says so when a template's slot names nothing), and nothing
        // can back an answer about it; nor can anything back an answer to a question whose relation was not read.
        var reading = _reader.Read(question);
        if (reading.Subject is null || reading.Subject.Candidates.Count == 0 || reading.Relation is null) return AnswerCheck.Unbacked;
        // An ambiguous subject: the answer stands when it is the value of one of the candidates, and is contradicted
        // when candidates hold values and it is none of them (the same closed world, over every reading of the name).
        if (reading.Entity is null && !GroundedPrompt.IsAbstention(answer) && answer.Trim().Length > 0)
        {
            var values = reading.Subject.Candidates.SelectMany(c => _graph.Match(c.Id, reading.Relation.Id, null)).ToList();
            string claimed = answer.Trim().TrimEnd('.', '!', '?', ' ');
            if (values.Count == 0) return AnswerCheck.Unbacked;
            if (!values.Any(t => ObjectMatch.Matches(_graph, t.Object, claimed))) return AnswerCheck.Contradicted;
        }
        return AnswerCheck.Keep;
    }
}
