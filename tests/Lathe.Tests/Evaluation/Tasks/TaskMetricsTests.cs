using Lathe.Evaluation.Tasks;

namespace Lathe.Tests.Evaluation.Tasks;

/// <summary>The metrics' definitions on hand-computed cases (lm-evaluation-harness and SQuAD conventions).</summary>
public class TaskMetricsTests
{
    [Fact]
    public void Acc_norm_divides_by_the_choices_length_in_code_points()
    {
        // Raw: choice 1 wins (−4 > −5). Per character: −5/10 = −0.5 beats −4/2 = −2, so choice 0 wins.
        Assert.Equal(1, TaskMetrics.Accuracy([-5, -4], 1));
        Assert.Equal(0, TaskMetrics.NormalizedAccuracy([-5, -4], ["abcdefghij", "ab"], 1));
        Assert.Equal(1, TaskMetrics.NormalizedAccuracy([-5, -4], ["abcdefghij", "ab"], 0));
        Assert.Equal(2, TaskMetrics.CodePoints("😀é"));   // one surrogate pair + one BMP character
        Assert.Equal(0, TaskMetrics.ArgMax([1.0, 1.0, 0.5]));   // ties: the first, as numpy
    }

    [Theory]
    [InlineData("Paris", " paris ", 1)]
    [InlineData("Paris.", "paris", 0)]
    public void Exact_match_trims_and_folds_case_only(string answer, string target, double expected) =>
        Assert.Equal(expected, TaskMetrics.ExactMatch(answer, target));

    [Theory]
    [InlineData("The Eiffel tower!", "eiffel tower", 1.0)]
    [InlineData("a big red dog", "the red dog barked", 2 * (2.0 / 3) * (2.0 / 3) / (4.0 / 3))]   // 2 common of 3 and 3 tokens
    [InlineData("", "", 1.0)]
    [InlineData("cat", "", 0.0)]
    public void F1_is_squads_token_overlap(string answer, string target, double expected) =>
        Assert.Equal(expected, TaskMetrics.F1(answer, target), 12);

    [Fact]
    public void Words_split_on_whitespace_runs_as_python_re_split()
    {
        Assert.Equal(3, TaskMetrics.Words("a  b\tc"));
        Assert.Equal(4, TaskMetrics.Words(" a b c"));   // re.split gives a leading empty piece
        Assert.Equal(5, TaskMetrics.Bytes("héllo".Normalize().Substring(0, 4)));
    }

    [Fact]
    public void Bootstrap_errors_are_seeded_and_near_the_binomial_error()
    {
        var values = Enumerable.Range(0, 400).Select(i => i % 4 == 0 ? 1.0 : 0.0).ToArray();   // p = 0.25
        double a = Bootstrap.StandardError(values.Length, idx => Bootstrap.Mean(values, idx), 2000, 7);
        double b = Bootstrap.StandardError(values.Length, idx => Bootstrap.Mean(values, idx), 2000, 7);
        Assert.Equal(a, b);
        double binomial = Math.Sqrt(0.25 * 0.75 / 400);   // 0.0217
        Assert.InRange(a, 0.9 * binomial, 1.1 * binomial);   // 2,000 resamples: the estimate's own error is ~1.6%
    }
}
