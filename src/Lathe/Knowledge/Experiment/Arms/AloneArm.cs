namespace Lathe.Knowledge.Experiment.Arms;

/// <summary>The model alone: the plain prompt (<see cref="GroundedPrompt.Format"/> without facts), greedy, one line.
/// Remembers its answers by question id, so the checked arm reads them instead of generating them again.</summary>
public sealed class AloneArm(IAnswerGenerator generator) : IHallucinationArm
{
    readonly Dictionary<string, ArmAnswer> _answered = new(StringComparer.Ordinal);

    public string Name => "alone";

    public IReadOnlyList<ArmAnswer> Answer(IReadOnlyList<QuestionRow> questions)
    {
        var missing = questions.Where(q => !_answered.ContainsKey(q.Id)).DistinctBy(q => q.Id).ToList();
        var generated = generator.Generate(missing.Select(q => new AnswerRequest(GroundedPrompt.Format(q.Question))).ToList());
        for (int i = 0; i < missing.Count; i++) _answered[missing[i].Id] = HallucinationArms.FromModel(missing[i], generated[i]);
        return questions.Select(q => _answered[q.Id]).ToList();
    }
}
