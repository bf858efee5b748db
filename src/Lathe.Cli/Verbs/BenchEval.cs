using System.CommandLine;
using System.Diagnostics;
using Lathe.Evaluation.Tasks;
using Lathe.Models;
using Lathe.Tensors.Threading;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe bench eval`: scoring throughput of the task harness — log-likelihood requests of 256 tokens (a
/// 192-token context and a 64-token continuation, no two sharing a context) on a preset with random weights, run
/// through <see cref="LogLikelihoodScorer"/> in passes of 8 requests. scripts/bench/eval-torch.py is the PyTorch peer:
/// the same model's forward under torch.no_grad(), log-softmax of the continuation's positions.</summary>
internal static class BenchEval
{
    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = "Model preset (S, M, …).", DefaultValueFactory = _ => "S" };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => 2 };
        var passes = new Option<int>("--passes") { Description = "Timed passes of 8 requests (median reported).", DefaultValueFactory = _ => 16 };
        var command = new Command("eval", "Log-likelihood scoring throughput (256-token requests, batched); prints tokens_per_s as JSON last.") { preset, threads, passes };
        command.SetAction(r => Run(r.GetValue(preset)!, r.GetValue(threads), r.GetValue(passes)));
        return command;
    }

    const int Batch = 8, Context = 192, Continuation = 64;

    static int Run(string preset, int threads, int passes)
    {
        if (threads <= 0 || passes <= 0) throw new UserInputException("bench eval: --threads and --passes must be positive");
        ComputePool.SetSharedThreads(threads);
        var config = ModelConfig.FromPresetOrFile(preset);
        if (config.MaxPositions < Context + Continuation - 1) throw new UserInputException($"bench eval: preset {preset}'s context {config.MaxPositions} is below {Context + Continuation - 1}");
        using var model = LanguageModel.Create(config, 1) as CausalLM ?? throw new UserInputException($"bench eval: preset {preset} is not a causal language model");
        var rng = new Lathe.Tensors.Philox(42);
        LogLikelihoodRequest[] Requests() => Enumerable.Range(0, Batch).Select(_ => new LogLikelihoodRequest(
            Enumerable.Range(0, Context).Select(_ => rng.NextInt(config.VocabSize)).ToArray(),
            Enumerable.Range(0, Continuation).Select(_ => rng.NextInt(config.VocabSize)).ToArray())).ToArray();
        using var scorer = new LogLikelihoodScorer(model, Batch * (Context + Continuation));
        // Warm-up for 2 s (at least 3 passes): the runtime's tiered compilation finishes before the timed passes.
        var warm = Stopwatch.StartNew();
        for (int i = 0; i < 3 || warm.Elapsed.TotalSeconds < 2; i++) scorer.Score(Requests());
        var times = new List<double>();
        for (int i = 0; i < passes; i++)
        {
            var requests = Requests();
            var watch = Stopwatch.StartNew();
            scorer.Score(requests);
            times.Add(watch.Elapsed.TotalSeconds);
        }
        double median = times.Order().ElementAt(times.Count / 2);
        double tokensPerSecond = Batch * (Context + Continuation) / median;
        Console.Error.WriteLine($"bench eval {preset}: {model.ParameterCount / 1e6:F2}M params, {Batch} requests of {Context}+{Continuation} tokens, {threads} threads: median pass {median * 1e3:F1} ms, {tokensPerSecond:F0} tok/s");
        BenchSupport.PrintJson(("bench", "eval"), ("preset", preset), ("threads", threads), ("batch", Batch), ("context", Context), ("continuation", Continuation),
            ("passes", passes), ("pass_ms", median * 1e3), ("tokens_per_s", tokensPerSecond), ("peak_rss_mb", BenchSupport.PeakRssMb()));
        return 0;
    }
}
