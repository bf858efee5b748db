namespace Lathe.Knowledge.Experiment.Arms;

/// <summary>The model with KG-constrained decoding: when the grounding plan abstains outright (no entity linked, no
/// value in the graph) the answer is the abstention without asking the model; otherwise the model answers the plan's
/// prompt with its tokens restricted to the graph's values (or the abstention).</summary>
public sealed class ConstrainedArm(IAnswerGenerator generator, IQuestionGrounding grounding) : IHallucinationArm
{
    public string Name => "constrained";

    public IReadOnlyList<ArmAnswer> Answer(IReadOnlyList<QuestionRow> questions)
    {
        var plans = questions.Select(q => grounding.Plan(q.Question)).ToList();
        var asked = Enumerable.Range(0, questions.Count).Where(i => !plans[i].AbstainNow).ToList();
        var generated = generator.Generate(asked.Select(i => new AnswerRequest(plans[i].Prompt, plans[i].Constraint)).ToList());
        var answers = questions.Select(HallucinationArms.Abstain).ToArray();
        for (int k = 0; k < asked.Count; k++) answers[asked[k]] = HallucinationArms.FromModel(questions[asked[k]], generated[k]);
        return answers;
    }
}
