using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Lathe.Evaluation.Levels;
using static Lathe.Tests.Evaluation.Levels.LevelsFixtures;

namespace Lathe.Tests.Evaluation.Levels;

/// <summary>The HTML page and the JSON document of an assessment: self-contained (no script, nothing fetched), the
/// matrix a well-formed SVG of 12 cells with exactly the model's one highlighted and the paper's reference points in
/// theirs, one evidence row per task, text escaped; the JSON holds what the page shows.</summary>
public class LevelsReportTests
{
    static LevelsAssessment SmallModel() => LevelsAssessment.Assess(Results("runs/<demo> & co",
        [.. Suite(capital: 0.26, currency: 0.24, language: 0.25, element: 0.27, wordnet: 0.25, lambada: 0.01, bpb: 2.4, arithmetic: 0, spam: 0.51),
         new Row("my_own_task", "acc", 0.7, 0.02, 0.25)]), BuiltIn);

    static XElement Matrix(string html)
    {
        var m = Regex.Match(html, "<svg id=\"levels-matrix\".*?</svg>", RegexOptions.Singleline);
        Assert.True(m.Success, "no matrix SVG in the page");
        return XElement.Parse(m.Value);   // well-formed XML, or this throws
    }

    [Fact]
    public void The_page_is_self_contained_and_shows_the_model_where_it_is()
    {
        var a = SmallModel();
        // bpb 2.4 ≤ unskilled 2.5 → Level 1 for the task, but the language family's lower median {0, 0, 1} is 0.
        Assert.Equal(PerformanceLevel.Emerging, a.Tasks.Single(t => t.Task == "bpb_moby").Level);
        Assert.Equal((PerformanceLevel.NoAi, Generality.Narrow), (a.Level, a.Generality));
        string html = LevelsReport.Render(a);
        Assert.Equal(html, LevelsReport.Render(SmallModel()));   // the same results give the same page, byte for byte

        Assert.StartsWith("<!DOCTYPE html>", html);
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotMatch("(src|href)\\s*=", html);                   // no image, stylesheet or link fetched
        Assert.DoesNotContain("@import", html);
        Assert.DoesNotContain("<demo>", html);                           // the model's name is escaped…
        Assert.Contains("runs/&lt;demo&gt; &amp; co", html);             // …and shown

        XNamespace svg = "http://www.w3.org/2000/svg";
        var matrix = Matrix(html);
        var cells = matrix.Descendants(svg + "g").Where(g => ((string?)g.Attribute("class"))?.StartsWith("cell") == true).ToList();
        Assert.Equal(12, cells.Count);
        var model = Assert.Single(cells, g => (string?)g.Attribute("class") == "cell model");
        Assert.Equal(("0", "narrow"), ((string?)model.Attribute("data-level"), (string?)model.Attribute("data-generality")));
        string Cell(int level, string generality) => string.Concat(cells.Single(g => (string?)g.Attribute("data-level") == level.ToString()
            && (string?)g.Attribute("data-generality") == generality).Descendants(svg + "text").Select(t => t.Value + " "));
        Assert.Contains("Emerging AGI", Cell(1, "general"));
        Assert.Contains("ChatGPT · Bard · Llama 2 · Gemini", Cell(1, "general"));
        Assert.Contains("AlphaFold", Cell(5, "narrow"));
        Assert.Contains("Deep Blue · AlphaGo", Cell(4, "narrow"));
        Assert.Contains("Grammarly", Cell(3, "narrow"));
        Assert.Contains("not yet achieved", Cell(3, "general"));
        Assert.Contains("Artificial Superintelligence", Cell(5, "general"));
        Assert.Contains("this model: runs/<demo> & co", Cell(0, "narrow"));

        // One evidence row per task, the unreferenced one marked so.
        var evidence = Regex.Match(html, "<table class=\"evidence\">.*?</table>", RegexOptions.Singleline).Value;
        Assert.Equal(10, Regex.Matches(evidence, "<tr[ >]").Count - 1);   // minus the header row
        Assert.Contains("no reference: not assessed", evidence);
        Assert.Contains("0.26 ± 0.01", evidence);
        Assert.Contains("bits_per_byte ↓", evidence);
        Assert.Contains("0 · No AI (at chance)", evidence);
        Assert.Contains("1 · Emerging", evidence);
        Assert.Contains("Level 0 · Narrow Non-AI", html);
        Assert.Contains("45 of the 45 human anchors", html);
    }

    [Theory]
    [InlineData(5, "general")]
    [InlineData(2, "narrow")]
    [InlineData(0, "general")]
    public void Exactly_one_cell_is_the_models(int level, string generality)
    {
        var matrix = XElement.Parse(MatrixSvg.Render((PerformanceLevel)level, generality == "general" ? Generality.General : Generality.Narrow, "m"));
        XNamespace svg = "http://www.w3.org/2000/svg";
        var model = Assert.Single(matrix.Descendants(svg + "g"), g => (string?)g.Attribute("class") == "cell model");
        Assert.Equal((level.ToString(), generality), ((string?)model.Attribute("data-level"), (string?)model.Attribute("data-generality")));
    }

    [Fact]
    public void The_JSON_document_holds_the_cell_the_rules_and_the_evidence()
    {
        var a = SmallModel();
        var stream = new MemoryStream();
        LevelsJson.Write(a, stream);
        using var doc = JsonDocument.Parse(stream.ToArray());
        var root = doc.RootElement;
        Assert.Equal((1, 0, "narrow", "Narrow Non-AI"), (root.GetProperty("lathe_levels").GetInt32(), root.GetProperty("level").GetInt32(),
            root.GetProperty("generality").GetString(), root.GetProperty("cell").GetString()));
        Assert.Equal((45, 45), (root.GetProperty("anchors_assumed").GetInt32(), root.GetProperty("anchors_total").GetInt32()));
        Assert.Equal(a.Verdict, root.GetProperty("verdict").GetString());
        Assert.Equal(4, root.GetProperty("families").GetArrayLength());
        var tasks = root.GetProperty("tasks").EnumerateArray().ToDictionary(t => t.GetProperty("task").GetString()!);
        Assert.Equal(10, tasks.Count);
        Assert.Equal("no_reference", tasks["my_own_task"].GetProperty("standing").GetString());
        Assert.Equal(JsonValueKind.Null, tasks["my_own_task"].GetProperty("level").ValueKind);
        var bpb = tasks["bpb_moby"];
        Assert.Equal((2.4, 1, false, 8.0), (bpb.GetProperty("value").GetDouble(), bpb.GetProperty("level").GetInt32(),
            bpb.GetProperty("higher_is_better").GetBoolean(), bpb.GetProperty("chance").GetDouble()));
        Assert.Equal(1.6, bpb.GetProperty("anchors").GetProperty("p50").GetProperty("value").GetDouble());
        Assert.True(bpb.GetProperty("anchors").GetProperty("p50").GetProperty("assumption").GetBoolean());
    }
}
