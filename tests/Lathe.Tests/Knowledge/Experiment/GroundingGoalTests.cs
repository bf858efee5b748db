using Lathe.Evaluation.Tasks;
using Lathe.Knowledge.Experiment;

namespace Lathe.Tests.Knowledge.Experiment;

/// <summary>The goal per grounded arm, on hand-set metrics: hallucination at most half of alone's, accuracy not
/// more than two combined standard errors below.</summary>
public class GroundingGoalTests
{
    static HallucinationResult R(string model, string arm, double hallucination, double accuracy, double accuracyError) => new(model, "p", 1000, arm,
        new HallucinationMetrics
        {
            Questions = 10, Answerable = 5, Unanswerable = 5, Accuracy = new MetricValue(accuracy, accuracyError), Hallucination = new MetricValue(hallucination, 0.01),
            HallucinationAnswerable = default, HallucinationUnanswerable = default, Abstention = default, AbstentionAnswerable = default,
            CalibrationError = default, Reliability = [],
        }, []);

    [Fact]
    public void Halving_without_losing_accuracy_meets_the_goal_and_anything_less_does_not()
    {
        var run = new HallucinationRun("q", "g", 0,
        [
            R("m", "alone", 0.40, 0.50, 0.05),
            R("m", "retrieval", 0.20, 0.45, 0.05),    // ratio 0.5; Δ −0.05 ≥ −2·√(0.05² + 0.05²) = −0.1414: met
            R("m", "constrained", 0.25, 0.60, 0.05),  // ratio 0.625: not met
            R("m", "checked", 0.10, 0.30, 0.05),      // Δ −0.20 < −0.1414: not met
            R("n", "retrieval", 0.0, 0.5, 0.05),      // no alone for n: not assessed
        ], 1);
        var goals = GroundingGoal.Assess(run);
        Assert.Equal(["retrieval", "constrained", "checked"], goals.Select(g => g.Arm));
        Assert.Equal([true, false, false], goals.Select(g => g.Met));
        Assert.Equal(0.5, goals[0].HallucinationRatio, 12);
        Assert.Equal(-0.05, goals[0].AccuracyChange, 12);
        Assert.Equal(Math.Sqrt(0.005), goals[0].AccuracyChangeError, 12);
        Assert.Equal(0.625, goals[1].HallucinationRatio, 12);
    }
}
