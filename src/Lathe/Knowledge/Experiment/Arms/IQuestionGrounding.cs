using Lathe.Inference;

namespace Lathe.Knowledge.Experiment.Arms;

/// <summary>The constrained arm's plan for a question: abstain at once (the question names nothing the graph holds, or
/// the graph has no value for what it asks), or prompt the model with the plan's prompt under its constraint.</summary>
public sealed record ConstrainedPlan(string Prompt, Func<ILogitsProcessor>? Constraint, bool AbstainNow, string? Reason);

/// <summary>What claim checking says of a short answer to a question.</summary>
public enum AnswerCheck
{
    /// <summary>The graph supports it (or, for a subject the reader could not pin down, does not rule it out).</summary>
    Keep,
    /// <summary>The graph holds the asked fact and the answer is none of its values.</summary>
    Contradicted,
    /// <summary>The graph holds no value for what the question asks — its subject is no entity of the graph, or the
    /// entity the name links to has no fact of the asked relation: nothing can back the answer.</summary>
    Unbacked,
}

/// <summary>What the grounded arms need from the knowledge graph (entity linking, retrieval prompts, KG-constrained
/// decoding, claim checking), behind one seam so the arms are tested with a fake and the experiment with the real
/// grounding (<see cref="KgQuestionGrounding"/>).</summary>
public interface IQuestionGrounding
{
    /// <summary>The question with the facts retrieved for it (<see cref="GroundedPrompt.Format"/>); the same text the
    /// QA tuning data taught.</summary>
    string RetrievalPrompt(string question);

    ConstrainedPlan Plan(string question);

    AnswerCheck Check(string question, string answer);
}
