namespace Lathe.Knowledge.Experiment.Arms;

/// <summary>One way of answering the experiment's questions (the model alone, with retrieval, with KG-constrained
/// decoding, with claim checking): an answer per question, in order.</summary>
public interface IHallucinationArm
{
    /// <summary>alone, retrieval, constrained or checked.</summary>
    string Name { get; }

    IReadOnlyList<ArmAnswer> Answer(IReadOnlyList<QuestionRow> questions);
}

/// <summary>The arms by name.</summary>
public static class HallucinationArms
{
    public static readonly string[] Names = ["alone", "retrieval", "constrained", "checked"];

    /// <summary>The named arms over one generator and one grounding; "checked" reuses the "alone" arm's answers
    /// instead of generating them twice.</summary>
    /// <exception cref="ArgumentException">An unknown or repeated arm name.</exception>
    public static IReadOnlyList<IHallucinationArm> Create(IReadOnlyList<string> names, IAnswerGenerator generator, IQuestionGrounding grounding)
    {
        var alone = new AloneArm(generator);
        var arms = new List<IHallucinationArm>();
        foreach (string name in names)
        {
            if (arms.Any(a => a.Name == name)) throw new ArgumentException($"arms: '{name}' is named twice");
            arms.Add(name switch
            {
                "alone" => alone,
                "retrieval" => new RetrievalArm(generator, grounding),
                "constrained" => new ConstrainedArm(generator, grounding),
                "checked" => new CheckedArm(alone, grounding),
                _ => throw new ArgumentException($"arms: '{name}' is not one of {string.Join(", ", Names)}"),
            });
        }
        return arms;
    }

    /// <summary>An answer as the model gave it; abstaining when it is the abstention sentence — or nothing at all (a
    /// model that ends the line at once claims nothing, so it cannot have hallucinated; it is counted with the
    /// abstentions, never as correct).</summary>
    internal static ArmAnswer FromModel(QuestionRow q, GeneratedAnswer a) =>
        new(q, a.Text, a.Confidence, GroundedPrompt.IsAbstention(a.Text) || NameKey.Of(a.Text).Length == 0);

    /// <summary>An abstention decided without the model (confidence 1: it is not a model's guess; calibration leaves
    /// abstentions out anyway).</summary>
    internal static ArmAnswer Abstain(QuestionRow q) => new(q, GroundedPrompt.Abstain, 1, true);
}
