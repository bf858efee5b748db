using System.Globalization;
using System.Text;

namespace Lathe.Evaluation.Levels;

/// <summary>Draws the 6 × 2 performance × generality matrix of Morris et al. (2023) as inline SVG: Level 5 at the top,
/// the paper's reference points (<see cref="LevelsOfAgi.Examples"/>) written into their cells, and one cell — the
/// model's — filled and outlined, with a marker.</summary>
public static class MatrixSvg
{
    const int LabelWidth = 190, CellWidth = 300, RowHeight = 84, HeaderHeight = 34, Pad = 10;
    public const int Width = LabelWidth + 2 * CellWidth + 2;
    public const int Height = HeaderHeight + 6 * RowHeight + 2;

    // Light to saturated with the level, so the ladder reads at a glance; the model's cell is amber, apart from them all.
    static readonly string[] RowFill = ["#f4f4f4", "#e8f1fb", "#d6e7f8", "#c2dbf4", "#abcdef", "#93bfe9"];
    const string ModelFill = "#ffd66b", ModelStroke = "#b26a00";

    /// <summary>The SVG element for a model placed at (<paramref name="level"/>, <paramref name="generality"/>);
    /// <paramref name="modelLabel"/> is written in its cell.</summary>
    public static string Render(PerformanceLevel level, Generality generality, string modelLabel)
    {
        var inv = CultureInfo.InvariantCulture;
        var svg = new StringBuilder();
        svg.Append(inv, $"<svg id=\"levels-matrix\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" role=\"img\" aria-label=\"Levels of AGI matrix: the model is {E(LevelsOfAgi.CellName(level, generality))}\" font-family=\"system-ui, -apple-system, 'Segoe UI', sans-serif\">\n");
        svg.Append(inv, $"<rect x=\"0\" y=\"0\" width=\"{Width}\" height=\"{Height}\" fill=\"#ffffff\"/>\n");
        Text(svg, Pad, HeaderHeight - 12, "Performance level", 13, "#555", "start", bold: false);
        Text(svg, LabelWidth + CellWidth / 2, HeaderHeight - 12, "Narrow", 15, "#222", "middle", bold: true);
        Text(svg, LabelWidth + CellWidth + CellWidth / 2, HeaderHeight - 12, "General", 15, "#222", "middle", bold: true);

        for (int row = 0; row < 6; row++)
        {
            var rowLevel = (PerformanceLevel)(5 - row);
            int y = HeaderHeight + row * RowHeight;
            svg.Append(inv, $"<rect x=\"1\" y=\"{y}\" width=\"{LabelWidth - 2}\" height=\"{RowHeight}\" fill=\"{RowFill[(int)rowLevel]}\" stroke=\"#ffffff\" stroke-width=\"2\"/>\n");
            Text(svg, Pad, y + 24, $"Level {(int)rowLevel}: {LevelsOfAgi.Name(rowLevel)}", 14, "#222", "start", bold: true);
            int ly = y + 42;
            foreach (string line in Wrap(LevelsOfAgi.Definition(rowLevel), 30))
            {
                Text(svg, Pad, ly, line, 11, "#444", "start", bold: false);
                ly += 14;
            }
            foreach (var g in new[] { Generality.Narrow, Generality.General })
                Cell(svg, rowLevel, g, LabelWidth + (g == Generality.Narrow ? 0 : CellWidth), y, rowLevel == level && g == generality, modelLabel);
        }
        svg.Append("</svg>");
        return svg.ToString();
    }

    static void Cell(StringBuilder svg, PerformanceLevel level, Generality generality, int x, int y, bool isModel, string modelLabel)
    {
        var inv = CultureInfo.InvariantCulture;
        string fill = isModel ? ModelFill : RowFill[(int)level];
        svg.Append(inv, $"<g class=\"cell{(isModel ? " model" : "")}\" data-level=\"{(int)level}\" data-generality=\"{generality.ToString().ToLowerInvariant()}\">");
        svg.Append(inv, $"<rect x=\"{x + 1}\" y=\"{y + 1}\" width=\"{CellWidth - 2}\" height=\"{RowHeight - 2}\" rx=\"4\" fill=\"{fill}\" stroke=\"{(isModel ? ModelStroke : "#ffffff")}\" stroke-width=\"{(isModel ? 4 : 2)}\"/>");
        Text(svg, x + Pad, y + 20, LevelsOfAgi.CellName(level, generality), 13, "#1a1a1a", "start", bold: true);
        var examples = LevelsOfAgi.Examples.Where(e => e.Level == level && e.Generality == generality).Select(e => e.Label).ToList();
        int ty = y + 38;
        if (examples.Count == 0 && !isModel)
            Text(svg, x + Pad, ty, "not yet achieved (paper)", 11, "#666", "start", bold: false, italic: true);
        foreach (string line in Wrap(string.Join(" · ", examples), isModel ? 30 : 44).Take(isModel ? 1 : 3))
        {
            Text(svg, x + Pad, ty, line, 11, "#333", "start", bold: false);
            ty += 14;
        }
        if (isModel)
        {
            // The marker: a filled diamond and the model's name, on the cell's last line.
            int my = y + RowHeight - 16;
            svg.Append(inv, $"<path d=\"M{x + Pad + 6} {my - 7} l7 7 l-7 7 l-7 -7 z\" fill=\"{ModelStroke}\"/>");
            Text(svg, x + Pad + 18, my + 5, Shorten("this model: " + modelLabel, 40), 13, ModelStroke, "start", bold: true);
        }
        svg.Append("</g>\n");
    }

    static void Text(StringBuilder svg, int x, int y, string text, int size, string colour, string anchor, bool bold, bool italic = false) =>
        svg.Append(CultureInfo.InvariantCulture,
            $"<text x=\"{x}\" y=\"{y}\" font-size=\"{size}\" fill=\"{colour}\" text-anchor=\"{anchor}\"{(bold ? " font-weight=\"600\"" : "")}{(italic ? " font-style=\"italic\"" : "")}>{E(text)}</text>");

    /// <summary>Greedy word wrap to lines of at most <paramref name="width"/> characters (SVG text does not wrap).</summary>
    internal static IEnumerable<string> Wrap(string text, int width)
    {
        var line = new StringBuilder();
        foreach (string word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.Length > 0 && line.Length + 1 + word.Length > width)
            {
                yield return line.ToString();
                line.Clear();
            }
            if (line.Length > 0) line.Append(' ');
            line.Append(word);
        }
        if (line.Length > 0) yield return line.ToString();
    }

    static string Shorten(string s, int max) => s.Length <= max ? s : s[..(max - 1)] + "…";

    static string E(string s) => HtmlText.Escape(s);
}
