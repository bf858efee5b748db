using Lathe.Evaluation.Tasks;

namespace Lathe.Knowledge.Experiment;

/// <summary>What an arm answered to one question: the answer text (the abstention sentence when it abstained), its
/// confidence (exp of the mean log-probability of the answer's tokens; 1 for an abstention made without the model)
/// and whether it abstained.</summary>
public sealed record ArmAnswer(QuestionRow Question, string Answer, double Confidence, bool Abstained)
{
    /// <summary>Answerable, not abstained, and one of the acceptable answers.</summary>
    public bool Correct => Question.Answerable && !Abstained && AnswerMatch.Matches(Answer, Question.Answers, Question.Numeric);

    /// <summary>A hallucination: a wrong answer to an answerable question, or any answer to an unanswerable one.</summary>
    public bool Hallucinated => !Abstained && !Correct;
}

/// <summary>One bin of the reliability table: non-abstaining answers whose confidence falls in [Lo, Hi) (the last bin
/// includes 1), how many, their mean confidence and the share that were correct.</summary>
public sealed record ReliabilityBin(double Lo, double Hi, int Count, double MeanConfidence, double Accuracy);

/// <summary>The experiment's metrics over an arm's answers, each with a bootstrap standard error (questions resampled
/// with replacement; <see cref="Bootstrap"/>).</summary>
public sealed record HallucinationMetrics
{
    public required int Questions { get; init; }
    public required int Answerable { get; init; }
    public required int Unanswerable { get; init; }
    /// <summary>Correct answers ÷ answerable questions.</summary>
    public required MetricValue Accuracy { get; init; }
    /// <summary>Hallucinations ÷ all questions.</summary>
    public required MetricValue Hallucination { get; init; }
    /// <summary>Wrong non-abstaining answers ÷ answerable questions.</summary>
    public required MetricValue HallucinationAnswerable { get; init; }
    /// <summary>Non-abstaining answers ÷ unanswerable questions.</summary>
    public required MetricValue HallucinationUnanswerable { get; init; }
    /// <summary>Abstentions ÷ all questions.</summary>
    public required MetricValue Abstention { get; init; }
    /// <summary>Abstentions ÷ answerable questions (grounding should not buy its hallucination cut with these).</summary>
    public required MetricValue AbstentionAnswerable { get; init; }
    /// <summary>Expected calibration error over <see cref="Bins"/> bins of the non-abstaining answers' confidence:
    /// Σ_b (n_b / N) |accuracy_b − confidence_b|, an answer to an unanswerable question counting as wrong.</summary>
    public required MetricValue CalibrationError { get; init; }
    public required IReadOnlyList<ReliabilityBin> Reliability { get; init; }

    public const int Bins = 10;

    /// <summary>The metrics of <paramref name="answers"/>; NaN for a ratio with no question in its denominator.</summary>
    public static HallucinationMetrics Compute(IReadOnlyList<ArmAnswer> answers, int bootstrapIterations = 1000, int seed = 1234)
    {
        int n = answers.Count;
        var answerable = answers.Select(a => a.Question.Answerable).ToArray();
        var correct = answers.Select(a => a.Correct).ToArray();
        var hallucinated = answers.Select(a => a.Hallucinated).ToArray();
        var abstained = answers.Select(a => a.Abstained).ToArray();
        var confidence = answers.Select(a => a.Confidence).ToArray();

        // Each metric is a ratio of counts over a subset of questions, so a resample recomputes both counts.
        Func<int[], double> Ratio(Func<int, bool> numerator, Func<int, bool> denominator) => idx =>
        {
            int num = 0, den = 0;
            foreach (int i in idx) if (denominator(i)) { den++; if (numerator(i)) num++; }
            return den == 0 ? double.NaN : (double)num / den;
        };
        Func<int[], double> ece = idx => Calibration(idx, abstained, correct, confidence).Ece;
        MetricValue Value(Func<int[], double> f) =>
            new(f(Enumerable.Range(0, n).ToArray()), Bootstrap.StandardError(n, f, bootstrapIterations, seed));

        var all = Calibration(Enumerable.Range(0, n).ToArray(), abstained, correct, confidence);
        return new HallucinationMetrics
        {
            Questions = n,
            Answerable = answerable.Count(a => a),
            Unanswerable = answerable.Count(a => !a),
            Accuracy = Value(Ratio(i => correct[i], i => answerable[i])),
            Hallucination = Value(Ratio(i => hallucinated[i], _ => true)),
            HallucinationAnswerable = Value(Ratio(i => hallucinated[i], i => answerable[i])),
            HallucinationUnanswerable = Value(Ratio(i => hallucinated[i], i => !answerable[i])),
            Abstention = Value(Ratio(i => abstained[i], _ => true)),
            AbstentionAnswerable = Value(Ratio(i => abstained[i], i => answerable[i])),
            CalibrationError = Value(ece),
            Reliability = all.Table,
        };
    }

    // ECE and the reliability table over the non-abstaining answers among idx (NaN ECE when there is none).
    static (double Ece, List<ReliabilityBin> Table) Calibration(int[] idx, bool[] abstained, bool[] correct, double[] confidence)
    {
        var count = new int[Bins];
        var confSum = new double[Bins];
        var right = new int[Bins];
        int total = 0;
        foreach (int i in idx)
        {
            if (abstained[i]) continue;
            int b = Math.Clamp((int)Math.Floor(confidence[i] * Bins), 0, Bins - 1);
            count[b]++;
            confSum[b] += confidence[i];
            if (correct[i]) right[b]++;
            total++;
        }
        var table = new List<ReliabilityBin>(Bins);
        double ece = 0;
        for (int b = 0; b < Bins; b++)
        {
            double meanConf = count[b] == 0 ? double.NaN : confSum[b] / count[b];
            double acc = count[b] == 0 ? double.NaN : (double)right[b] / count[b];
            table.Add(new ReliabilityBin((double)b / Bins, (double)(b + 1) / Bins, count[b], meanConf, acc));
            if (count[b] > 0) ece += (double)count[b] / total * Math.Abs(acc - meanConf);
        }
        return (total == 0 ? double.NaN : ece, table);
    }
}
