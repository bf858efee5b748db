using Lathe.Evaluation.Levels;
using Lathe.Tests.Browser;
using Lathe.Tests.Data;
using static Lathe.Tests.Evaluation.Levels.LevelsFixtures;

namespace Lathe.Tests.Evaluation.Levels;

/// <summary>The Levels-of-AGI report in a real browser: headless Chromium opens the HTML file, the matrix SVG lays out
/// at its full size with its text, the page fetches nothing and raises no error, and the screenshot is a page, not a
/// blank: many colours and a large share of pixels off the background.</summary>
public class LevelsReportBrowserTests
{
    [ChromiumFact]
    public void The_report_renders_its_matrix_in_chromium()
    {
        var a = LevelsAssessment.Assess(Results("runs/demo",
            Suite(capital: 0.31, currency: 0.27, language: 0.3, element: 0.35, wordnet: 0.28, lambada: 0.02, bpb: 2.3, arithmetic: 0.01, spam: 0.62)), BuiltIn);
        using var dir = new TempDir();
        string html = dir.File("report.html"), png = dir.File("report.png");
        LevelsReport.Write(a, html);
        var page = HeadlessChromium.Screenshot(html, png);

        Assert.Equal(0, page.GetProperty("errors").GetArrayLength());
        Assert.Equal(0, page.GetProperty("requests").GetArrayLength());
        Assert.StartsWith("Levels of AGI", page.GetProperty("title").GetString());
        var matrix = page.GetProperty("svgs").EnumerateArray().Single(s => s.GetProperty("id").GetString() == "levels-matrix");
        Assert.Equal((MatrixSvg.Width, MatrixSvg.Height), ((int)matrix.GetProperty("width").GetDouble(), (int)matrix.GetProperty("height").GetDouble()));
        Assert.True(matrix.GetProperty("texts").GetInt32() > 40, "the matrix has too little text");

        var (width, height, _, _) = PngPixels.Read(png);
        Assert.Equal(1200, width);
        Assert.True(height > MatrixSvg.Height, $"the page is {height} px tall, shorter than its matrix");
        Assert.True(PngPixels.DistinctColours(png) > 50, "the screenshot is blank");
        int ink = PngPixels.NonBackground(png, 0xfafafa);
        Assert.True(ink > width * height / 5, $"only {ink} of {width * height} pixels differ from the page background");
    }
}
