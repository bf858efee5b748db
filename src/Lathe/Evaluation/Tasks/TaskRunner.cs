using System.Text.Json;
using Lathe.Inference;
using Lathe.Distributed;

namespace Lathe.Evaluation.Tasks;

/// <summary>How a task run is set up: few-shot examples per document, a limit on documents, the seed that draws the
/// examples and the bootstrap, and the size of the scorer's passes.</summary>
public sealed record TaskRunOptions
{
    public int Shots { get; init; }
    /// <summary>Score only the first N documents (null: all).</summary>
    public int? Limit { get; init; }
    public int Seed { get; init; } = 1234;
    public int BootstrapIterations { get; init; } = 1000;
    public int BatchTokens { get; init; } = 512;
    /// <summary>Concurrent generations for generate_until tasks (the serving engine's parallel sequences).</summary>
    public int Parallel { get; init; } = 16;
    /// <summary>The chat template of tasks with <see cref="TaskSpec.ChatTemplate"/> (null: the model's own, else ChatML).</summary>
    public Formats.ChatTemplate? Template { get; init; }
}

/// <summary>Runs a task on a loaded causal model: each document becomes requests (log-likelihoods of choices or a
/// target, a rolling log-likelihood, or a greedy generation), the requests are scored in batches, and the metrics are
/// aggregated with bootstrap standard errors.</summary>
public static class TaskRunner
{
    /// <exception cref="InvalidDataException">A document that lacks a field the task names, a gold answer outside the
    /// choices, an empty choice list: one line naming the file, line and field.</exception>
    /// <remarks>With a <paramref name="world"/> of K ranks (every rank calls this with the same task and options) the
    /// scorer's passes, or the documents of a generation task, are dealt round-robin over the ranks and every rank gets
    /// every sample: the result is the single process's, bit for bit.</remarks>
    public static TaskResult Run(TaskSpec task, LoadedModel model, TaskRunOptions options, Action<string>? progress = null, Communicator? world = null)
    {
        if (model.Model is not Models.CausalLM lm) throw new ArgumentException($"{task.Name}: eval tasks needs a causal language model; {model.Model.Config.ModelType} is not one.");
        var (documents, pool, prompts) = RankedScoring.Prepared(world, () =>
        {
            var documents = Read(task, task.Documents);
            if (options.Limit is int limit) documents = documents.Take(limit).ToList();
            var pool = task.FewShotDocuments is null ? null : Read(task, task.FewShotDocuments);
            return (documents, pool, new TaskPrompts(task, model, options.Template));
        });
        var samples = task.OutputType switch
        {
            TaskOutputType.MultipleChoice or TaskOutputType.LogLikelihood => ScoreLogLikelihood(task, lm, prompts, documents, pool, options, progress, world),
            TaskOutputType.LogLikelihoodRolling => ScoreRolling(task, lm, prompts, documents, options, world),
            _ => Generate(task, model, prompts, documents, pool, options, world),
        };
        var metrics = new Dictionary<string, MetricValue>();
        foreach (string metric in task.Metrics) metrics[metric] = Aggregate(metric, samples, options);
        double? chance = task.OutputType == TaskOutputType.MultipleChoice ? samples.Average(s => 1.0 / s.Choices.Count) : null;
        return new TaskResult(task, metrics, chance, samples);
    }

    static List<TaskDocument> Read(TaskSpec task, string path)
    {
        try { return TaskDocuments.Read(path); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{task.Path}: {e.Message}"); }
        catch (FileNotFoundException e) { throw new InvalidDataException($"{task.Path}: {e.Message}"); }
    }

    static List<TaskSample> ScoreLogLikelihood(TaskSpec task, Models.CausalLM lm, TaskPrompts prompts, List<TaskDocument> documents,
        List<TaskDocument>? pool, TaskRunOptions options, Action<string>? progress, Communicator? world)
    {
        var requests = new List<LogLikelihoodRequest>();
        var plans = new List<(TaskDocument Doc, IReadOnlyList<string> Choices, int Gold, string Target, int First)>();
        // Every rank builds every request (the scorer deals the passes), so a bad document stops all ranks alike.
        RankedScoring.Prepared(world, () => { Plan(); return 0; });
        void Plan()
        {
            for (int d = 0; d < documents.Count; d++)
            {
                var doc = documents[d];
                string context = prompts.Context(doc, d, pool ?? documents, pool is null, options);
                if (task.OutputType == TaskOutputType.MultipleChoice)
                {
                    var (choices, gold) = prompts.Choices(doc);
                    plans.Add((doc, choices, gold, choices[gold], requests.Count));
                    foreach (string choice in choices) requests.Add(prompts.Pair(context, prompts.Delimiter + choice, doc));
                }
                else
                {
                    string target = prompts.Target(doc);
                    plans.Add((doc, [], -1, target, requests.Count));
                    requests.Add(prompts.Pair(context, prompts.Delimiter + target, doc));
                }
            }
        }
        using var scorer = new LogLikelihoodScorer(lm, options.BatchTokens);
        var scores = scorer.Score(requests, done => progress?.Invoke($"{task.Name}: {done}/{requests.Count} requests"), world);
        return plans.Select((p, d) =>
        {
            int n = task.OutputType == TaskOutputType.MultipleChoice ? p.Choices.Count : 1;
            var mine = scores.Skip(p.First).Take(n).ToArray();
            return new TaskSample
            {
                Document = d, Line = p.Doc.Line, Choices = p.Choices, Gold = p.Gold, Target = p.Target,
                LogLikelihoods = mine.Select(s => s.Value).ToArray(), IsGreedy = mine.Select(s => s.IsGreedy).ToArray(),
            };
        }).ToList();
    }

    static List<TaskSample> ScoreRolling(TaskSpec task, Models.CausalLM lm, TaskPrompts prompts, List<TaskDocument> documents, TaskRunOptions options, Communicator? world)
    {
        var (texts, tokens) = RankedScoring.Prepared(world, () =>
        {
            var texts = documents.Select(prompts.Target).ToList();
            return (texts, texts.Select((t, i) => prompts.Rolling(t, documents[i])).ToList());
        });
        using var scorer = new LogLikelihoodScorer(lm, options.BatchTokens);
        var scores = scorer.ScoreRolling(tokens, world);
        return documents.Select((doc, d) => new TaskSample
        {
            Document = d, Line = doc.Line, Target = texts[d], LogLikelihoods = [scores[d].Sum], Tokens = scores[d].Tokens,
            Words = TaskMetrics.Words(texts[d]), Bytes = TaskMetrics.Bytes(texts[d]),
        }).ToList();
    }

    static List<TaskSample> Generate(TaskSpec task, LoadedModel model, TaskPrompts prompts, List<TaskDocument> documents, List<TaskDocument>? pool, TaskRunOptions options, Communicator? world)
    {
        int rank = world?.Rank ?? 0, ranks = world?.Size ?? 1;
        int window = model.Model.Config.MaxPositions;
        using var engine = new InferenceEngine(model, new EngineOptions { Parallel = options.Parallel, QueueCapacity = Math.Max(256, documents.Count + 1), ContextLength = window });
        var runs = new List<Task<GenerationResult[]>>();
        var ours = new List<int>();
        // Every rank reads every document (so a bad one stops all ranks alike), then generates its own share.
        var (targets, prompted) = RankedScoring.Prepared(world, () =>
            (documents.Select(prompts.Target).ToList(), documents.Select((doc, d) => prompts.Encode(prompts.Context(doc, d, pool ?? documents, pool is null, options))).ToList()));
        for (int d = 0; d < documents.Count; d++)
        {
            // Documents are dealt round-robin; a sequence's greedy tokens do not depend on what shares its steps (the
            // engine keeps each step within the batch-invariant rows), so the answers are the single process's.
            if (d % ranks != rank) continue;
            ours.Add(d);
            int[] prompt = prompted[d];
            int maxTokens = Math.Min(task.MaxTokens, window - 1);
            if (prompt.Length + maxTokens > window) prompt = prompt[^(window - maxTokens)..];   // the oldest tokens go
            runs.Add(engine.Submit(new GenerationRequest
            {
                Prompt = prompt, MaxTokens = maxTokens, StopStrings = prompts.Until, Sampling = new SamplingOptions { Temperature = 0 },
            }).CollectAsync());
        }
        var results = Task.WhenAll(runs).GetAwaiter().GetResult();
        var answers = new string[documents.Count];
        for (int i = 0; i < ours.Count; i++) answers[ours[i]] = results[i][0].Text.ToString();
        if (ranks > 1) answers = RankedScoring.GatherAnswers(world!, documents.Count, ours.Select(d => (d, answers[d])).ToList());
        return documents.Select((doc, d) => new TaskSample
        {
            Document = d, Line = doc.Line, Target = targets[d], Answer = answers[d],
        }).ToList();
    }

    /// <summary>A metric over the samples, with its bootstrap standard error.</summary>
    public static MetricValue Aggregate(string metric, IReadOnlyList<TaskSample> samples, TaskRunOptions options)
    {
        Func<int[], double> aggregate;
        switch (metric)
        {
            case "acc" when samples.Count > 0 && samples[0].Choices.Count > 0:
                aggregate = Mean(samples.Select(s => TaskMetrics.Accuracy(s.LogLikelihoods, s.Gold)).ToArray()); break;
            case "acc_norm":
                aggregate = Mean(samples.Select(s => TaskMetrics.NormalizedAccuracy(s.LogLikelihoods, s.Choices, s.Gold)).ToArray()); break;
            case "acc":   // loglikelihood: the target is the greedy continuation
                aggregate = Mean(samples.Select(s => s.IsGreedy.All(g => g) ? 1.0 : 0.0).ToArray()); break;
            case "perplexity":   // exp(−mean per-document log-likelihood), as lm-evaluation-harness aggregates it
            {
                var ll = samples.Select(s => s.LogLikelihoods[0]).ToArray();
                aggregate = idx => Math.Exp(-Bootstrap.Mean(ll, idx));
                break;
            }
            case "word_perplexity": aggregate = Weighted(samples, s => s.Words, l => Math.Exp(-l)); break;
            case "byte_perplexity": aggregate = Weighted(samples, s => s.Bytes, l => Math.Exp(-l)); break;
            case "bits_per_byte": aggregate = Weighted(samples, s => s.Bytes, l => -l / Math.Log(2)); break;
            case "exact_match": aggregate = Mean(samples.Select(s => TaskMetrics.ExactMatch(s.Answer, s.Target)).ToArray()); break;
            case "f1": aggregate = Mean(samples.Select(s => TaskMetrics.F1(s.Answer, s.Target)).ToArray()); break;
            default: throw new ArgumentException($"unknown metric '{metric}'.");
        }
        var all = Enumerable.Range(0, samples.Count).ToArray();
        return new MetricValue(aggregate(all), Bootstrap.StandardError(samples.Count, aggregate, options.BootstrapIterations, options.Seed));
    }

    static Func<int[], double> Mean(double[] values) => idx => Bootstrap.Mean(values, idx);

    // Σ log-likelihood ÷ Σ units (words or bytes) over the documents, then the metric's transform.
    static Func<int[], double> Weighted(IReadOnlyList<TaskSample> samples, Func<TaskSample, int> units, Func<double, double> transform)
    {
        var ll = samples.Select(s => s.LogLikelihoods[0]).ToArray();
        var n = samples.Select(units).ToArray();
        return idx =>
        {
            double sum = 0; long count = 0;
            foreach (int i in idx) { sum += ll[i]; count += n[i]; }
            return transform(sum / Math.Max(1, count));
        };
    }
}
