using Lathe.Evaluation.Levels;
using static Lathe.Tests.Evaluation.Levels.LevelsFixtures;

namespace Lathe.Tests.Evaluation.Levels;

/// <summary>Bad results documents and reference tables: one-line errors naming the file and the field's path.</summary>
public class LevelsInputTests
{
    static string ResultsError(string json) => Assert.Throws<InvalidDataException>(() => ResultsDocument.Parse(json, "results.json")).Message;

    [Fact]
    public void A_results_document_reads_its_model_and_metrics()
    {
        var r = Results("runs/demo", new Row("spam_ham", "acc", 0.61, 0.032, 0.5), new Row("spam_ham", "acc_norm", 0.58, null, 0.5));
        Assert.Equal(("runs/demo", "checkpoint", "gpt2", 4273664L), (r.Model.Source, r.Model.Format, r.Model.ModelType, r.Model.Parameters!.Value));
        var t = Assert.Single(r.Tasks);
        Assert.Equal(("spam_ham", 1L, "multiple_choice", 200L, 0.5), (t.Name, t.Version!.Value, t.OutputType, t.Documents!.Value, t.Chance!.Value));
        Assert.Equal(new MetricFigure(0.61, 0.032), t.Metrics["acc"]);
        Assert.Equal(new MetricFigure(0.58, null), t.Metrics["acc_norm"]);
    }

    [Theory]
    [InlineData("""{"tasks": {}}""", "results.json: lathe_eval: missing")]
    [InlineData("""{"lathe_eval": 2, "tasks": {}}""", "results.json: lathe_eval: version 2 is not supported")]
    [InlineData("""{"lathe_eval": 1}""", "results.json: tasks: missing")]
    [InlineData("""{"lathe_eval": 1, "tasks": []}""", "results.json: tasks: expected an object, got an array")]
    [InlineData("""{"lathe_eval": 1, "tasks": {"spam_ham": {"metrics": {}}}}""", "results.json: tasks.spam_ham.output_type: missing")]
    [InlineData("""{"lathe_eval": 1, "tasks": {"spam_ham": {"output_type": "multiple_choice"}}}""", "results.json: tasks.spam_ham.metrics: missing")]
    [InlineData("""{"lathe_eval": 1, "tasks": {"spam_ham": {"output_type": "multiple_choice", "metrics": {"acc": {"value": "high"}}}}}""",
        "results.json: tasks.spam_ham.metrics.acc.value: expected a number, got \"high\"")]
    [InlineData("""{"lathe_eval": 1, "tasks": {"spam_ham": {"output_type": "multiple_choice", "metrics": {"acc": {"stderr": 0.1}}}}}""",
        "results.json: tasks.spam_ham.metrics.acc.value: missing")]
    [InlineData("""{"lathe_eval": 1, "tasks": {"spam_ham": {"output_type": "multiple_choice", "metrics": {"acc": 0.5}}}}""",
        "results.json: tasks.spam_ham.metrics.acc: expected an object")]
    [InlineData("""{"lathe_eval": 1, "tasks": {"spam_ham": {"output_type": "multiple_choice", "chance": "half", "metrics": {}}}}""",
        "results.json: tasks.spam_ham.chance: expected a number, got \"half\"")]
    [InlineData("[1, 2]", "results.json: (root): expected a JSON object")]
    public void A_bad_results_document_names_the_file_and_field(string json, string expected)
    {
        string message = ResultsError(json);
        Assert.StartsWith(expected, message);
        Assert.DoesNotContain('\n', message);
    }

    [Fact]
    public void Text_that_is_not_JSON_names_the_file_and_line()
    {
        string message = ResultsError("{\n  \"lathe_eval\": 1,\n  \"tasks\": {,\n}");
        Assert.StartsWith("results.json: line 3: not valid JSON", message);
        Assert.DoesNotContain('\n', message);
    }

    [Fact]
    public void A_missing_results_file_is_named()
    {
        var e = Assert.Throws<FileNotFoundException>(() => ResultsDocument.Load("/nonexistent/results.json"));
        Assert.Equal("/nonexistent/results.json: results file not found", e.Message);
    }

    const string Anchors = """
        "unskilled": { "value": 0.4, "assumption": true, "reason": "r" }, "p50": { "value": 0.6, "source": "a survey" },
        "p90": { "value": 0.8, "assumption": true, "reason": "r" }, "p99": { "value": 0.9, "assumption": true, "reason": "r" }
        """;

    static string Table(string task, string anchors = Anchors + """, "best": { "value": 1.0, "assumption": true, "reason": "r" }""") => $$"""
        { "lathe_levels_references": 1, "families": { "f": { "title": "F" } },
          "tasks": { "t": { {{task}} "anchors": { {{anchors}} } } } }
        """;

    [Fact]
    public void A_reference_table_reads_sources_and_assumptions()
    {
        var table = ReferenceTable.Parse(Table("\"family\": \"f\", \"metric\": \"acc\", \"chance\": 0.25,"), "refs.json");
        var t = table.Tasks["t"];
        Assert.Equal(("f", "acc", true, 0.25, 4), (t.Family, t.Metric, t.HigherIsBetter, t.Chance!.Value, t.Assumptions));
        Assert.Equal("source: a survey", t[Anchor.P50].Provenance);
        Assert.Equal("assumption: r", t[Anchor.Best].Provenance);
    }

    [Theory]
    [InlineData("\"metric\": \"acc\",", null, "refs.json: tasks.t.family: missing")]
    [InlineData("\"family\": \"g\", \"metric\": \"acc\",", null, "refs.json: tasks.t.family: \"g\" is not one of the families (f)")]
    [InlineData("\"family\": \"f\",", null, "refs.json: tasks.t.metric: missing")]
    [InlineData("\"family\": \"f\", \"metric\": \"acc\",", Anchors, "refs.json: tasks.t.anchors.best: missing")]
    [InlineData("\"family\": \"f\", \"metric\": \"acc\",", Anchors + """, "best": { "value": 1.0 }""",
        "refs.json: tasks.t.anchors.best: needs a \"source\", or \"assumption\": true with a \"reason\"")]
    [InlineData("\"family\": \"f\", \"metric\": \"acc\",", Anchors + """, "best": { "value": 1.0, "assumption": true }""",
        "refs.json: tasks.t.anchors.best.reason: an assumption needs a one-line reason")]
    [InlineData("\"family\": \"f\", \"metric\": \"acc\",", Anchors + """, "best": { "value": 0.85, "source": "s" }""",
        "refs.json: tasks.t.anchors.best.value: 0.85 is worse than the previous anchor (0.9)")]
    [InlineData("\"family\": \"f\", \"metric\": \"acc\", \"higher_is_better\": false,", Anchors + """, "best": { "value": 1.0, "source": "s" }""",
        "refs.json: tasks.t.anchors.p50.value: 0.6 is worse than the previous anchor (0.4)")]
    public void A_bad_reference_table_names_the_file_and_field(string task, string? anchors, string expected)
    {
        string json = anchors is null ? Table(task) : Table(task, anchors);
        var e = Assert.Throws<InvalidDataException>(() => ReferenceTable.Parse(json, "refs.json"));
        Assert.StartsWith(expected, e.Message);
    }
}
