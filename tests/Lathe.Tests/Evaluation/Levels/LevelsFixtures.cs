using System.Text.Json;
using System.Text.Json.Nodes;
using Lathe.Evaluation.Levels;
using Lathe.Tests.Data;

namespace Lathe.Tests.Evaluation.Levels;

/// <summary>Hand-made results documents in the `lathe eval tasks` format, and the built-in reference table.</summary>
internal static class LevelsFixtures
{
    public static string BuiltInPath => Path.Combine(Peers.RepoRoot, "data", "levels", "references.json");

    public static ReferenceTable BuiltIn => ReferenceTable.Load(BuiltInPath);

    /// <summary>One task's line: name, output type, the metric's value and stderr, and the chance the harness reports.</summary>
    public sealed record Row(string Task, string Metric, double? Value, double? Stderr = null, double? Chance = null, string OutputType = "multiple_choice");

    /// <summary>A results document (lathe_eval 1) holding <paramref name="rows"/>.</summary>
    public static string ResultsJson(string model, params Row[] rows)
    {
        var tasks = new JsonObject();
        foreach (var r in rows)
        {
            if (!tasks.ContainsKey(r.Task))
                tasks[r.Task] = new JsonObject
                {
                    ["version"] = 1, ["output_type"] = r.OutputType, ["documents"] = 200, ["source"] = "test", ["chance"] = r.Chance,
                    ["metrics"] = new JsonObject(),
                };
            tasks[r.Task]!["metrics"]![r.Metric] = new JsonObject { ["value"] = r.Value, ["stderr"] = r.Stderr };
        }
        var root = new JsonObject
        {
            ["lathe_eval"] = 1,
            ["model"] = new JsonObject { ["source"] = model, ["format"] = "checkpoint", ["model_type"] = "gpt2", ["parameters"] = 4273664 },
            ["config"] = new JsonObject { ["shots"] = 0, ["limit"] = null, ["seed"] = 1234, ["adapter"] = null, ["bootstrap_iters"] = 1000 },
            ["tasks"] = tasks,
            ["seconds"] = 12.3,
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    public static ResultsDocument Results(string model, params Row[] rows) => ResultsDocument.Parse(ResultsJson(model, rows), "results.json");

    /// <summary>The nine built-in tasks at the given scores (multiple choice with the chance the harness reports).</summary>
    public static Row[] Suite(double capital, double currency, double language, double element, double wordnet, double lambada, double bpb,
        double arithmetic, double spam, double stderr = 0.01) =>
    [
        new("country_capital", "acc", capital, stderr, 0.25), new("country_currency", "acc", currency, stderr, 0.25),
        new("country_language", "acc", language, stderr, 0.25), new("element_symbol", "acc", element, stderr, 0.25),
        new("wordnet_definition", "acc", wordnet, stderr, 0.25),
        new("lambada_moby", "acc", lambada, stderr, null, "loglikelihood"),
        new("bpb_moby", "bits_per_byte", bpb, stderr, null, "loglikelihood_rolling"),
        new("arithmetic", "exact_match", arithmetic, stderr, null, "generate_until"),
        new("spam_ham", "acc", spam, stderr, 0.5),
    ];
}
