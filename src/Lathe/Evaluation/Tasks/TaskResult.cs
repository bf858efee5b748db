namespace Lathe.Evaluation.Tasks;

/// <summary>A metric's value over a task's documents and its bootstrap standard error (NaN with fewer than two).</summary>
public readonly record struct MetricValue(double Value, double StandardError);

/// <summary>What one document produced: the requests' answers a metric is computed from (kept so an independent script
/// can recompute every metric — see scripts/eval/check_metrics.py).</summary>
public sealed record TaskSample
{
    public required int Document { get; init; }
    public required int Line { get; init; }
    /// <summary>multiple_choice: one per choice; loglikelihood: one; rolling: the text's total.</summary>
    public IReadOnlyList<double> LogLikelihoods { get; init; } = [];
    public IReadOnlyList<bool> IsGreedy { get; init; } = [];
    public IReadOnlyList<string> Choices { get; init; } = [];
    public int Gold { get; init; } = -1;
    public string Target { get; init; } = "";
    /// <summary>generate_until: the model's answer (up to the first stop string).</summary>
    public string Answer { get; init; } = "";
    /// <summary>Rolling: the text's words and UTF-8 bytes.</summary>
    public int Words { get; init; }
    public int Bytes { get; init; }
    public int Tokens { get; init; }
}

/// <summary>One task's outcome: its metrics (name → value ± stderr), the chance level of a multiple-choice task, and
/// the per-document samples.</summary>
public sealed record TaskResult(TaskSpec Task, IReadOnlyDictionary<string, MetricValue> Metrics, double? Chance, IReadOnlyList<TaskSample> Samples);
