using System.Text.Json;
using Lathe.IO;
using Lathe.Models;

namespace Lathe.Evaluation.Scaling;

/// <summary>A model size a plan may use: a preset (or config file) and its parameter counts.</summary>
/// <param name="Parameters">Non-embedding N (<see cref="NonEmbeddingParameters"/>).</param>
/// <param name="OutputHead">V×C, which costs per token like N does.</param>
public sealed record PlanModel(string Config, long Parameters, long OutputHead)
{
    /// <summary>A preset name or config.json path, counted from its shapes.</summary>
    public static PlanModel From(string nameOrPath)
    {
        var config = ModelConfig.FromPresetOrFile(nameOrPath);
        return new PlanModel(nameOrPath, NonEmbeddingParameters.Count(config), NonEmbeddingParameters.OutputHead(config));
    }
}

/// <summary>What to plan: the sizes, the measured speed, the wall-time budget, and the shape of the sweep.</summary>
/// <param name="Models">At least three sizes (a parabola per budget needs three).</param>
/// <param name="TokensPerSecond">Training tokens per second measured on <paramref name="MeasuredOn"/>.</param>
/// <param name="BudgetMinutes">Wall time for every run of the plan, the held-out one included.</param>
/// <param name="Budgets">Compute budgets (IsoFLOP profiles) of the fitted runs.</param>
/// <param name="BudgetRatio">Each budget's compute over the previous one's.</param>
/// <param name="HeldOutRatio">The held-out run's compute over the largest fitted run's (the issue asks for ≥ 4).</param>
/// <param name="TokensPerStep">batch × block: turns tokens into `pretrain --steps`.</param>
public sealed record ScalingPlanRequest(IReadOnlyList<PlanModel> Models, double TokensPerSecond, PlanModel MeasuredOn, double BudgetMinutes,
    int Budgets = 3, double BudgetRatio = 2, double HeldOutRatio = 4, int TokensPerStep = 2048, int Threads = 2);

/// <summary>One planned run.</summary>
public sealed record PlannedRun(string Name, string Config, long Parameters, double Tokens, double Compute, long Steps, double Minutes, int Budget);

/// <summary>A sweep that fits the budget: every size at every compute budget (IsoFLOP profiles, which the parametric
/// fit uses too), then one held-out run at <see cref="ScalingPlanRequest.HeldOutRatio"/>× the largest budget.</summary>
public sealed record ScalingPlan(ScalingPlanRequest Request, IReadOnlyList<PlannedRun> Runs, PlannedRun HeldOut)
{
    /// <summary>Chinchilla's rule of thumb for the compute-optimal ratio, used only to pick the held-out run's size
    /// (Hoffmann et al. 2022, Table 3: ~20 tokens per parameter).</summary>
    public const double ChinchillaTokensPerParameter = 20;

    public double FittedMinutes => Runs.Sum(r => r.Minutes);

    /// <summary>Budgets whose sizes all sit on one side of ~20 tokens per parameter: their IsoFLOP valley's floor is
    /// likely outside the sizes, so the parabola's minimum is an extrapolation. (Add sizes, or budget, until it
    /// straddles.)</summary>
    public IReadOnlyList<string> Warnings => Runs.GroupBy(r => r.Budget)
        .Where(g => g.All(r => r.Tokens / r.Parameters < ChinchillaTokensPerParameter) || g.All(r => r.Tokens / r.Parameters > ChinchillaTokensPerParameter))
        .Select(g => string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"budget {g.Key} (C = {g.First().Compute:E2}): every size has {(g.All(r => r.Tokens / r.Parameters < ChinchillaTokensPerParameter) ? "fewer" : "more")} than ~{ChinchillaTokensPerParameter} tokens per parameter, so its loss minimum likely lies outside the sizes"))
        .ToList();
    public double TotalMinutes => FittedMinutes + HeldOut.Minutes;

    /// <summary>Plans the sweep. Wall time is estimated from a constant throughput in (N + V·C)·tokens per second,
    /// measured on one model: every size does 6·(N + V·C) FLOPs per token, so time scales with that product. It is
    /// optimistic for sizes smaller than the measured one (small matrices run the kernels below their peak) and
    /// pessimistic for larger ones. Because each run's tokens, and so its time, is proportional to its budget's
    /// compute, the plan is one sweep scaled to fill the budget exactly.</summary>
    /// <exception cref="ArgumentException">Fewer than three sizes, or a non-positive speed, budget or ratio.</exception>
    public static ScalingPlan Make(ScalingPlanRequest request)
    {
        if (request.Models.Select(m => m.Parameters).Distinct().Count() < 3)
            throw new ArgumentException($"a scaling plan needs at least three distinct model sizes; got {request.Models.Select(m => m.Parameters).Distinct().Count()}.", nameof(request));
        if (!(request.TokensPerSecond > 0)) throw new ArgumentException($"tokens per second {request.TokensPerSecond} must be positive.", nameof(request));
        if (!(request.BudgetMinutes > 0)) throw new ArgumentException($"budget minutes {request.BudgetMinutes} must be positive.", nameof(request));
        if (request.Budgets < 2) throw new ArgumentException($"budgets {request.Budgets} must be at least 2 (an exponent needs two IsoFLOP minima).", nameof(request));
        if (!(request.BudgetRatio > 1)) throw new ArgumentException($"budget ratio {request.BudgetRatio} must exceed 1.", nameof(request));
        if (!(request.HeldOutRatio >= 1)) throw new ArgumentException($"held-out ratio {request.HeldOutRatio} must be at least 1.", nameof(request));
        if (request.TokensPerStep < 1) throw new ArgumentException($"tokens per step {request.TokensPerStep} must be positive.", nameof(request));

        // Parameter-tokens per second: the measured model's cost per token times its speed.
        double work = request.TokensPerSecond * (request.MeasuredOn.Parameters + request.MeasuredOn.OutputHead);
        double Seconds(PlanModel m, double tokens) => tokens * (m.Parameters + m.OutputHead) / work;
        var models = request.Models.DistinctBy(m => m.Parameters).OrderBy(m => m.Parameters).ToList();
        double maxRelative = Math.Pow(request.BudgetRatio, request.Budgets - 1) * request.HeldOutRatio;

        // The smallest budget's compute C₀ when `held` makes the held-out run: the time of the whole sweep at C₀ = 1 FLOP
        // scales linearly with C₀. Runs are whole steps: fitted runs round down, the held-out run up (so its ratio stays
        // ≥ the one asked), and one held-out step is kept in reserve for that rounding, so the total stays within budget.
        double C0(PlanModel held)
        {
            double unitSeconds = Seconds(held, maxRelative / (6.0 * held.Parameters));
            for (int j = 0; j < request.Budgets; j++)
                foreach (var m in models) unitSeconds += Seconds(m, Math.Pow(request.BudgetRatio, j) / (6.0 * m.Parameters));
            return (request.BudgetMinutes * 60 - Seconds(held, request.TokensPerStep)) / unitSeconds;
        }
        // The held-out size: the one whose run at C₀·ratio comes nearest Chinchilla's tokens per parameter (in log),
        // each candidate judged at the C₀ it itself leaves.
        PlanModel held = models.MinBy(m => Math.Abs(Math.Log(Math.Max(1e-300, C0(m)) * maxRelative / (6.0 * m.Parameters * m.Parameters) / ChinchillaTokensPerParameter)))!;
        double c0 = C0(held);
        if (!(c0 > 0)) throw new ArgumentException($"budget minutes {request.BudgetMinutes} do not cover one step of the held-out run.", nameof(request));

        PlannedRun Run(string name, PlanModel m, double compute, int budget, bool roundUp)
        {
            double exact = compute / (6.0 * m.Parameters) / request.TokensPerStep;
            long steps = Math.Max(1, (long)(roundUp ? Math.Ceiling(exact) : Math.Floor(exact)));
            double tokens = steps * (double)request.TokensPerStep;
            return new PlannedRun(name, m.Config, m.Parameters, tokens, ScalingRun.StandardCompute(m.Parameters, tokens), steps, Seconds(m, tokens) / 60, budget);
        }
        var runs = new List<PlannedRun>();
        for (int j = 0; j < request.Budgets; j++)
            foreach (var m in models) runs.Add(Run($"b{j}-{m.Config}", m, c0 * Math.Pow(request.BudgetRatio, j), j, roundUp: false));
        var heldOut = Run($"heldout-{held.Config}", held, c0 * maxRelative, -1, roundUp: true);
        return new ScalingPlan(request, runs, heldOut);
    }

    /// <summary>Writes the plan as JSON, atomically.</summary>
    public void Write(string path) => AtomicFile.Write(path, stream =>
    {
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        w.WriteNumber("lathe_scaling_plan", 1);
        w.WriteNumber("budget_minutes", Request.BudgetMinutes);
        w.WriteNumber("threads", Request.Threads);
        w.WriteNumber("tokens_per_second", Request.TokensPerSecond);
        w.WriteString("measured_on", Request.MeasuredOn.Config);
        w.WriteString("time_model", "constant (N + V*C) * tokens per second, from the measured model");
        w.WriteNumber("tokens_per_step", Request.TokensPerStep);
        w.WriteNumber("budget_ratio", Request.BudgetRatio);
        w.WriteNumber("held_out_ratio", HeldOut.Compute / Runs.Max(r => r.Compute));
        w.WriteNumber("fitted_minutes", FittedMinutes);
        w.WriteNumber("total_minutes", TotalMinutes);
        w.WriteStartArray("warnings");
        foreach (string warning in Warnings) w.WriteStringValue(warning);
        w.WriteEndArray();
        w.WriteStartArray("runs");
        foreach (var r in Runs) WriteRun(w, r);
        w.WriteEndArray();
        w.WritePropertyName("held_out");
        WriteRun(w, HeldOut);
        w.WriteEndObject();
    });

    static void WriteRun(Utf8JsonWriter w, PlannedRun r)
    {
        w.WriteStartObject();
        w.WriteString("name", r.Name);
        w.WriteString("config", r.Config);
        w.WriteNumber("parameters", r.Parameters);
        w.WriteNumber("tokens", r.Tokens);
        w.WriteNumber("compute", r.Compute);
        w.WriteNumber("tokens_per_parameter", r.Tokens / r.Parameters);
        w.WriteNumber("steps", r.Steps);
        w.WriteNumber("minutes", r.Minutes);
        if (r.Budget >= 0) w.WriteNumber("budget", r.Budget);
        w.WriteEndObject();
    }
}
