using Lathe.Knowledge;
using Lathe.Knowledge.Experiment;

namespace Lathe.Tests.Knowledge.Experiment;

/// <summary>The experiment's metrics on hand-made answers whose values are worked out by hand in the comments, answer
/// matching (names by NameKey, numbers within 0.5%), and the bootstrap error against the binomial closed form.</summary>
public class HallucinationMetricsTests
{
    static QuestionRow Q(string id, bool answerable, params string[] answers) =>
        new(id, "q " + id, "s", "r", answers, answerable, 0) { Numeric = answers.Any(a => double.TryParse(a, out _)) };
    static ArmAnswer A(QuestionRow q, string answer, double confidence) => new(q, answer, confidence, GroundedPrompt.IsAbstention(answer));

    static List<ArmAnswer> Hand() =>
    [
        A(Q("1", true, "Paris"), " paris", 0.9),          // correct, bin 9
        A(Q("2", true, "551695"), "552,000", 0.8),        // |Δ| = 305 ≤ 0.5% · 551695 = 2758.5: correct, bin 8
        A(Q("3", true, "Berlin"), "Munich", 0.85),        // wrong: hallucination (answerable), bin 8
        A(Q("4", true, "Rome"), "I don't know.", 0.3),    // abstained
        A(Q("5", false), "Paris", 0.15),                  // answered the unanswerable: hallucination, bin 1
        A(Q("6", false), "i don't know", 1.0),            // abstained
    ];

    [Fact]
    public void Hand_made_answers_give_the_hand_computed_metrics()
    {
        var m = HallucinationMetrics.Compute(Hand(), bootstrapIterations: 0);
        Assert.Equal((6, 4, 2), (m.Questions, m.Answerable, m.Unanswerable));
        Assert.Equal(2.0 / 4, m.Accuracy.Value, 12);                      // questions 1, 2
        Assert.Equal(2.0 / 6, m.Hallucination.Value, 12);                 // questions 3, 5
        Assert.Equal(1.0 / 4, m.HallucinationAnswerable.Value, 12);       // 3
        Assert.Equal(1.0 / 2, m.HallucinationUnanswerable.Value, 12);     // 5
        Assert.Equal(2.0 / 6, m.Abstention.Value, 12);                    // 4, 6
        Assert.Equal(1.0 / 4, m.AbstentionAnswerable.Value, 12);          // 4
        // Non-abstaining: 0.9 ✓ (bin 9), 0.8 ✓ and 0.85 ✗ (bin 8), 0.15 ✗ (bin 1).
        // ECE = (1·|1 − 0.9| + 2·|0.5 − 0.825| + 1·|0 − 0.15|) / 4 = 0.9 / 4.
        Assert.Equal(0.225, m.CalibrationError.Value, 12);
        Assert.Equal(10, m.Reliability.Count);
        Assert.Equal([0, 1, 0, 0, 0, 0, 0, 0, 2, 1], m.Reliability.Select(b => b.Count));
        Assert.Equal(0.825, m.Reliability[8].MeanConfidence, 12);
        Assert.Equal(0.5, m.Reliability[8].Accuracy, 12);
        Assert.True(double.IsNaN(m.Reliability[0].Accuracy));
        Assert.True(double.IsNaN(m.Accuracy.StandardError));   // no bootstrap asked for
    }

    [Fact]
    public void A_confidence_of_one_falls_in_the_last_bin_and_no_answer_leaves_ratios_undefined()
    {
        var m = HallucinationMetrics.Compute([A(Q("1", true, "x"), "x", 1.0)], 0);
        Assert.Equal(1, m.Reliability[9].Count);
        Assert.Equal(0, m.CalibrationError.Value, 12);
        Assert.True(double.IsNaN(m.HallucinationUnanswerable.Value));
        var none = HallucinationMetrics.Compute([A(Q("1", false), "I don't know.", 1.0)], 0);
        Assert.True(double.IsNaN(none.CalibrationError.Value));
        Assert.Equal(0, none.Hallucination.Value);
    }

    [Fact]
    public void The_bootstrap_error_of_a_rate_matches_the_binomial_closed_form()
    {
        // 400 questions, 100 hallucinated: SE = √(p(1 − p)/n) = √(0.25 · 0.75 / 400) ≈ 0.021651. With 4000 resamples
        // the bootstrap's own relative spread is ≈ 1/√(2·4000) ≈ 1.1%, so 5% is > 4 of its standard deviations.
        var answers = Enumerable.Range(0, 400).Select(i => A(Q(i.ToString(), true, "yes"), i % 4 == 0 ? "no" : "yes", 0.5)).ToList();
        var m = HallucinationMetrics.Compute(answers, bootstrapIterations: 4000, seed: 7);
        double se = Math.Sqrt(0.25 * 0.75 / 400);
        Assert.Equal(0.25, m.Hallucination.Value, 12);
        Assert.InRange(m.Hallucination.StandardError, se * 0.95, se * 1.05);
        Assert.InRange(m.Accuracy.StandardError, se * 0.95, se * 1.05);
        Assert.Equal(m.Hallucination.StandardError, HallucinationMetrics.Compute(answers, 4000, 7).Hallucination.StandardError);
    }

    [Theory]
    [InlineData("Paris", true)]
    [InlineData("  PARIS. ", true)]
    [InlineData("Parisville", false)]
    [InlineData("COTE-D'IVOIRE", true)]
    [InlineData("551,695", true)]
    [InlineData("551695.0", true)]
    [InlineData("554,000", true)]     // +0.42%
    [InlineData("555,000", false)]    // +0.60%
    [InlineData("", false)]
    public void Answers_match_by_name_key_or_within_half_a_percent(string answer, bool expected) =>
        Assert.Equal(expected, AnswerMatch.Matches(answer, ["Paris", "Cote d'Ivoire", "551695"], numeric: true));

    [Fact]
    public void Years_and_codes_get_no_numeric_tolerance()
    {
        Assert.False(AnswerMatch.Matches("1907", ["1901"], numeric: false));
        Assert.True(AnswerMatch.Matches("1901.", ["1901"], numeric: false));
        Assert.True(AnswerMatch.Matches("1907", ["1901"], numeric: true));   // within 0.5% when the relation is numeric
    }
}
