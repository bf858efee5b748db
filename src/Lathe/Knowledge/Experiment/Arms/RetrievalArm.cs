namespace Lathe.Knowledge.Experiment.Arms;

/// <summary>The model with retrieval: the linked entities' facts, verbalised, before the question; the model answers
/// freely (it may still abstain, as QA tuning taught it to when the facts are empty).</summary>
public sealed class RetrievalArm(IAnswerGenerator generator, IQuestionGrounding grounding) : IHallucinationArm
{
    public string Name => "retrieval";

    public IReadOnlyList<ArmAnswer> Answer(IReadOnlyList<QuestionRow> questions)
    {
        var generated = generator.Generate(questions.Select(q => new AnswerRequest(grounding.RetrievalPrompt(q.Question))).ToList());
        return questions.Select((q, i) => HallucinationArms.FromModel(q, generated[i])).ToList();
    }
}
