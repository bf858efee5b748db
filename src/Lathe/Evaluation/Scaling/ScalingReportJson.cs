using System.Text.Json;
using Lathe.IO;

namespace Lathe.Evaluation.Scaling;

/// <summary>Writes a <see cref="ScalingAnalysis"/> as <c>scaling.json</c>: both fits with their intervals, the
/// compute-optimal exponents beside Chinchilla's published ones, the frontier at each decade of compute, and the
/// held-out predictions with their percentage error. Numbers at full precision (scripts compare them).</summary>
public static class ScalingReportJson
{
    /// <summary>The document's format version.</summary>
    public const int Version = 1;

    /// <summary>Writes <paramref name="analysis"/> to <paramref name="path"/> atomically.</summary>
    public static void Write(string path, ScalingAnalysis analysis) => AtomicFile.Write(path, stream =>
    {
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        Write(w, analysis);
    });

    /// <summary>Writes the document into <paramref name="w"/>.</summary>
    public static void Write(Utf8JsonWriter w, ScalingAnalysis analysis)
    {
        var fit = analysis.Parametric;
        var law = fit.Law;
        var ci = analysis.ParametricIntervals;
        w.WriteStartObject();
        Number(w, "lathe_scaling", Version);
        Number(w, "runs", analysis.Runs.Count);
        Number(w, "held_out_runs", analysis.HeldOut.Count);
        w.WriteString("parameters_counted", "non-embedding");

        w.WriteStartObject("parametric");
        w.WriteString("method", "Hoffmann et al. 2022, Approach 3: L(N, D) = E + A/N^alpha + B/D^beta; Huber loss on log-loss, L-BFGS from a grid of starts");
        Number(w, "E", law.E); Number(w, "A", law.A); Number(w, "B", law.B);
        Number(w, "alpha", law.Alpha); Number(w, "beta", law.Beta);
        Number(w, "a", law.ParametersExponent); Number(w, "b", law.TokensExponent);
        Number(w, "G", law.G);
        Number(w, "huber_delta", analysis.Options.Fit.Delta);
        Number(w, "objective", fit.Objective);
        Number(w, "starts", fit.Starts);
        if (ci is not null)
        {
            w.WriteStartObject("intervals");
            WriteBootstrapHeader(w, analysis, ci.Resamples, ci.Failed);
            Interval(w, "E", ci.E); Interval(w, "A", ci.A); Interval(w, "B", ci.B);
            Interval(w, "alpha", ci.Alpha); Interval(w, "beta", ci.Beta);
            Interval(w, "a", ci.ParametersExponent); Interval(w, "b", ci.TokensExponent);
            w.WriteEndObject();
        }
        w.WriteStartArray("frontier");
        foreach (double c in FrontierComputes(analysis))
        {
            w.WriteStartObject();
            Number(w, "compute", c);
            Number(w, "optimal_parameters", law.OptimalParameters(c));
            Number(w, "optimal_tokens", law.OptimalTokens(c));
            Number(w, "loss", law.FrontierLoss(c));
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();

        w.WriteStartObject("isoflop");
        w.WriteString("method", "Hoffmann et al. 2022, Approach 2: a parabola of loss in ln N per compute budget; ln N_opt and ln D_opt fitted linearly in ln C");
        if (analysis.IsoFlop is { } iso)
        {
            Number(w, "a", iso.Parameters.Exponent); Number(w, "k", iso.Parameters.Coefficient);
            Number(w, "b", iso.Tokens.Exponent); Number(w, "k_tokens", iso.Tokens.Coefficient);
            Number(w, "budget_tolerance", analysis.Options.BudgetTolerance);
            w.WriteStartArray("budgets");
            foreach (var b in iso.Budgets)
            {
                w.WriteStartObject();
                Number(w, "compute", b.Compute);
                Number(w, "runs", b.Runs.Count);
                Number(w, "optimal_parameters", b.OptimalParameters);
                Number(w, "optimal_tokens", b.OptimalTokens);
                Number(w, "minimum_loss", b.MinimumLoss);
                w.WriteBoolean("interior", b.Interior);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("skipped");
            foreach (string s in iso.Skipped) w.WriteStringValue(s);
            w.WriteEndArray();
            if (analysis.IsoFlopIntervals is { } ici)
            {
                w.WriteStartObject("intervals");
                WriteBootstrapHeader(w, analysis, ici.Resamples, ici.Failed);
                Interval(w, "a", ici.ParametersExponent); Interval(w, "b", ici.TokensExponent);
                w.WriteEndObject();
            }
        }
        else w.WriteString("error", analysis.IsoFlopError);
        w.WriteEndObject();

        w.WriteStartObject("compute_optimal");
        w.WriteString("meaning", "N_opt = k C^a, D_opt = k_tokens C^b");
        w.WriteStartObject("lathe");
        Exponents(w, "approach3", law.ParametersExponent, law.TokensExponent);
        if (analysis.IsoFlop is { } isoFit) Exponents(w, "approach2", isoFit.Parameters.Exponent, isoFit.Tokens.Exponent);
        w.WriteEndObject();
        w.WriteStartObject("chinchilla");
        w.WriteString("source", "Hoffmann et al. 2022, Training Compute-Optimal Large Language Models, arXiv:2203.15556, Table 2 and Eq. 10");
        Exponents(w, "approach1", ChinchillaPublished.Approach1A, ChinchillaPublished.Approach1B);
        Exponents(w, "approach2", ChinchillaPublished.Approach2A, ChinchillaPublished.Approach2B);
        Exponents(w, "approach3", ChinchillaPublished.Approach3A, ChinchillaPublished.Approach3B);
        var p = ChinchillaPublished.Approach3;
        w.WriteStartObject("law");
        Number(w, "E", p.E); Number(w, "A", p.A); Number(w, "B", p.B); Number(w, "alpha", p.Alpha); Number(w, "beta", p.Beta);
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndObject();

        w.WriteStartArray("held_out");
        foreach (var h in analysis.Predictions)
        {
            w.WriteStartObject();
            w.WriteString("name", h.Run.Name);
            Number(w, "parameters", h.Run.Parameters);
            Number(w, "tokens", h.Run.Tokens);
            Number(w, "compute", h.Run.Compute);
            Number(w, "compute_ratio", h.ComputeRatio);
            Number(w, "measured", h.Run.Loss);
            Number(w, "predicted", h.Predicted);
            Number(w, "error_percent", h.ErrorPercent);
            if (h.Interval is { } interval) Interval(w, "predicted_interval", interval);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>Each decade of compute from the smallest run to the largest run or held-out run.</summary>
    public static IEnumerable<double> FrontierComputes(ScalingAnalysis analysis)
    {
        var all = analysis.Runs.Concat(analysis.HeldOut).Select(r => r.Compute).ToArray();
        int lo = (int)Math.Floor(Math.Log10(all.Min())), hi = (int)Math.Ceiling(Math.Log10(all.Max()));
        for (int k = lo; k <= hi; k++) yield return Math.Pow(10, k);
    }

    // JSON has no NaN or infinity; a degenerate fit (say α ≤ 0, so no frontier) writes null rather than failing.
    static void Number(Utf8JsonWriter w, string name, double value)
    {
        if (double.IsFinite(value)) w.WriteNumber(name, value);
        else w.WriteNull(name);
    }

    static void NumberValue(Utf8JsonWriter w, double value)
    {
        if (double.IsFinite(value)) w.WriteNumberValue(value);
        else w.WriteNullValue();
    }

    static void WriteBootstrapHeader(Utf8JsonWriter w, ScalingAnalysis analysis, int resamples, int failed)
    {
        Number(w, "confidence", analysis.Options.Confidence);
        Number(w, "resamples", resamples);
        Number(w, "failed_resamples", failed);
        Number(w, "seed", analysis.Options.Seed);
    }

    static void Interval(Utf8JsonWriter w, string name, ConfidenceInterval interval)
    {
        w.WriteStartArray(name);
        NumberValue(w, interval.Low);
        NumberValue(w, interval.High);
        w.WriteEndArray();
    }

    static void Exponents(Utf8JsonWriter w, string name, double a, double b)
    {
        w.WriteStartObject(name);
        Number(w, "a", a);
        Number(w, "b", b);
        w.WriteEndObject();
    }
}
