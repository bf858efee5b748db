namespace Lathe.Knowledge.Experiment.Arms;

/// <summary>The model alone, then claim checking: an answer the graph contradicts, or one the graph cannot back (its
/// subject is not in the graph, or has no fact of the asked relation), is replaced by the abstention; an answer the
/// graph supports stands as the model gave it.</summary>
public sealed class CheckedArm(IHallucinationArm alone, IQuestionGrounding grounding) : IHallucinationArm
{
    public string Name => "checked";

    public IReadOnlyList<ArmAnswer> Answer(IReadOnlyList<QuestionRow> questions) =>
        alone.Answer(questions).Select(a => a.Abstained || grounding.Check(a.Question.Question, a.Answer) == AnswerCheck.Keep
            ? a : HallucinationArms.Abstain(a.Question)).ToList();
}
