using System.Text.RegularExpressions;
using System.Xml.Linq;
using Lathe.Evaluation.Levels;
using Lathe.Evaluation.Reports;
using Lathe.Tests.Browser;
using Lathe.Tests.Data;
using Lathe.Tests.Evaluation.Levels;
using Lathe.Training;

namespace Lathe.Tests.Evaluation.Reports;

/// <summary>The run report (`lathe eval report --run DIR`): a run folder as training writes it (metrics.jsonl and
/// loss.svg by MetricsLog itself), with results.json and a scaling plot beside it, becomes one page holding the loss
/// chart, the task table, the levels matrix and the plot (embedded, not linked); a folder holding less shows less; bad
/// files are named with their line; and headless Chromium renders it (a screenshot, not blank; the charts laid out).</summary>
public class RunReportTests
{
    // A run folder: 40 steps of a falling loss with validation every 10, the results of the nine tasks, one scaling plot.
    static string MakeRun(TempDir dir, bool withResults = true, bool withScaling = true)
    {
        string run = dir.File("run");
        Directory.CreateDirectory(run);
        var log = new MetricsLog(run);
        for (int step = 1; step <= 40; step++)
        {
            double loss = 2 + 6 * Math.Exp(-step / 10.0);
            log.Add(step, loss, 6e-4 * (1 - step / 50.0), 1.0 / step, step % 10 == 0 ? loss + 0.1 : null, step * 4096L);
        }
        log.Flush();
        if (withResults)
            File.WriteAllText(Path.Combine(run, "results.json"), LevelsFixtures.ResultsJson("runs/demo",
                LevelsFixtures.Suite(capital: 0.3, currency: 0.26, language: 0.31, element: 0.33, wordnet: 0.27, lambada: 0.01, bpb: 2.6, arithmetic: 0, spam: 0.55)));
        if (withScaling)
        {
            Directory.CreateDirectory(Path.Combine(run, "scaling"));
            File.WriteAllText(Path.Combine(run, "scaling", "scaling.json"), "{}");
            File.WriteAllText(Path.Combine(run, "scaling", "loss_vs_compute.svg"),
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"400\" height=\"240\"><rect width=\"400\" height=\"240\" fill=\"#fff\"/>" +
                "<polyline points=\"20,20 120,120 220,170 380,200\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"3\"/><text x=\"200\" y=\"30\">loss vs compute</text></svg>");
        }
        return run;
    }

    [Fact]
    public void A_full_run_folder_shows_every_section()
    {
        using var dir = new TempDir();
        var c = RunReport.Gather(MakeRun(dir), LevelsFixtures.BuiltInPath);
        Assert.Equal(40, c.Metrics!.Count);
        Assert.Equal((10, 2 + 6 * Math.Exp(-1) + 0.1), (c.Metrics[9].Step, c.Metrics[9].ValLoss!.Value));
        Assert.Equal(9, c.Results!.Tasks.Count);
        Assert.Equal("loss_vs_compute.svg", Path.GetFileName(Assert.Single(c.ScalingPlots)));   // loss.svg of the run is not a scaling plot
        string html = RunReport.Render(c);

        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotMatch("(src|href)\\s*=\\s*\"(?!data:)", html);   // only data: images, nothing fetched
        Assert.Equal(4, Regex.Matches(html, "<h2 class=\"part\">").Count);
        Assert.Contains("<div class=\"chart\" id=\"loss-chart\">", html);
        Assert.Contains("<th>best validation loss</th><td>" + LevelsReport.Number(2 + 6 * Math.Exp(-4) + 0.1) + " nats at step 40", html);
        Assert.Contains("<svg id=\"levels-matrix\"", html);
        Assert.Contains("Level 0 · Narrow Non-AI", html);
        Assert.Contains("data:image/svg+xml;base64,", html);
        // The loss chart and the matrix are well-formed inline SVG.
        foreach (Match m in Regex.Matches(html, "<svg.*?</svg>", RegexOptions.Singleline)) XElement.Parse(m.Value);
        // The task table: one row per metric, the values as in results.json.
        var tasks = Regex.Match(html, "<table class=\"tasks\">.*?</table>", RegexOptions.Singleline).Value;
        Assert.Equal(9, Regex.Matches(tasks, "<tr><td>").Count);
        Assert.Contains("<td>bpb_moby</td><td class=\"num\">1</td><td>bits_per_byte</td><td class=\"num\">2.6</td><td class=\"num\">0.01</td><td class=\"num\">200</td>", tasks);
    }

    [Fact]
    public void A_folder_with_only_training_shows_only_training()
    {
        using var dir = new TempDir();
        var c = RunReport.Gather(MakeRun(dir, withResults: false, withScaling: false), LevelsFixtures.BuiltInPath);
        Assert.Null(c.Results);
        Assert.Null(c.Levels);
        string html = RunReport.Render(c);
        Assert.Single(Regex.Matches(html, "<h2 class=\"part\">"));
        Assert.DoesNotContain("levels-matrix", html);
    }

    [Fact]
    public void Bad_run_folders_are_named()
    {
        using var dir = new TempDir();
        Assert.Equal($"{dir.File("none")}: run folder not found",
            Assert.Throws<DirectoryNotFoundException>(() => RunReport.Gather(dir.File("none"), null)).Message);
        Directory.CreateDirectory(dir.File("empty"));
        Assert.StartsWith($"{dir.File("empty")}: holds no metrics.jsonl",
            Assert.Throws<InvalidDataException>(() => RunReport.Gather(dir.File("empty"), null)).Message);

        string run = MakeRun(dir, withResults: false, withScaling: false);
        string metrics = Path.Combine(run, "metrics.jsonl");
        var lines = File.ReadAllLines(metrics);
        lines[2] = lines[2].Replace("\"loss\":", "\"lost\":");
        File.WriteAllLines(metrics, lines);
        Assert.Equal($"{metrics}: line 3: loss: missing", Assert.Throws<InvalidDataException>(() => RunReport.Gather(run, null)).Message);
        lines[2] = "[1, 2]";
        File.WriteAllLines(metrics, lines);
        Assert.Equal($"{metrics}: line 3: not a JSON object", Assert.Throws<InvalidDataException>(() => RunReport.Gather(run, null)).Message);
    }

    [ChromiumFact]
    public void The_run_report_renders_in_chromium()
    {
        using var dir = new TempDir();
        string run = MakeRun(dir);
        string html = dir.File("report.html"), png = dir.File("report.png");
        RunReport.Write(RunReport.Gather(run, LevelsFixtures.BuiltInPath), html);
        var page = HeadlessChromium.Screenshot(html, png);

        Assert.Equal(0, page.GetProperty("errors").GetArrayLength());
        // The one scaling plot is a data: URL, which the browser decodes itself: no file or network request.
        Assert.All(page.GetProperty("requests").EnumerateArray(), r => Assert.StartsWith("data:", r.GetString()));
        var boxes = page.GetProperty("svgs").EnumerateArray().ToList();
        Assert.Equal(2, boxes.Count);   // the loss chart and the matrix (the plot is an image)
        Assert.All(boxes, b => Assert.True(b.GetProperty("width").GetDouble() > 300 && b.GetProperty("height").GetDouble() > 300, $"svg {b} did not lay out"));
        Assert.True(PngPixels.DistinctColours(png) > 50, "the screenshot is blank");
        var (width, height, _, _) = PngPixels.Read(png);
        Assert.True(PngPixels.NonBackground(png, 0xfafafa) > width * height / 5, "the page is mostly background");
    }
}
