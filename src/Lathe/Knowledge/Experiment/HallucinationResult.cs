namespace Lathe.Knowledge.Experiment;

/// <summary>One model × arm of the experiment: which model (a label, its path, its parameter count), the arm, the
/// metrics and every answer (kept so the samples file can be checked independently).</summary>
public sealed record HallucinationResult(string Model, string Path, long Parameters, string Arm, HallucinationMetrics Metrics,
    IReadOnlyList<ArmAnswer> Answers)
{
    /// <summary>The model's series in the plots: the part of its label before a '/' ("inject/s" and "inject/m" are one
    /// line, "plain/s" another), or "" when the label has none.</summary>
    public string Series => Model.Contains('/') ? Model[..Model.IndexOf('/')] : "";
}

/// <summary>Everything one <c>eval hallucination</c> run measured, with what it ran on.</summary>
public sealed record HallucinationRun(string Questions, string Graph, int Limit, IReadOnlyList<HallucinationResult> Results, double Seconds);
