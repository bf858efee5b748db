namespace Lathe.Knowledge.Experiment;

/// <summary>The goal for one grounded arm on one model: its hallucination rate at most half the same model's
/// alone, and its accuracy on answerable questions not lower — "not lower" read as not more than two combined
/// standard errors below (√(se₁² + se₂²)), since both accuracies are estimates.</summary>
public sealed record GroundingGoal(string Model, string Arm, double HallucinationRatio, double AccuracyChange, double AccuracyChangeError, bool Met)
{
    /// <summary>Every grounded arm (all but alone) of every model that also ran alone.</summary>
    public static IReadOnlyList<GroundingGoal> Assess(HallucinationRun run)
    {
        var goals = new List<GroundingGoal>();
        foreach (var alone in run.Results.Where(r => r.Arm == "alone"))
            foreach (var r in run.Results.Where(r => r.Model == alone.Model && r.Arm != "alone"))
            {
                double h0 = alone.Metrics.Hallucination.Value, h1 = r.Metrics.Hallucination.Value;
                double ratio = h0 > 0 ? h1 / h0 : h1 > 0 ? double.PositiveInfinity : 1;
                double delta = r.Metrics.Accuracy.Value - alone.Metrics.Accuracy.Value;
                double se = Math.Sqrt(Sq(r.Metrics.Accuracy.StandardError) + Sq(alone.Metrics.Accuracy.StandardError));
                bool accuracyHeld = double.IsNaN(delta) || delta >= -2 * (double.IsFinite(se) ? se : 0);
                goals.Add(new GroundingGoal(r.Model, r.Arm, ratio, delta, se, ratio <= 0.5 && accuracyHeld));
            }
        return goals;
    }

    static double Sq(double x) => double.IsFinite(x) ? x * x : 0;
}
