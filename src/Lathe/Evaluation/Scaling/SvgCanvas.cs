using System.Globalization;
using System.Text;

namespace Lathe.Evaluation.Scaling;

/// <summary>The SVG backend of <see cref="IChartCanvas"/>: one element a line (a &lt;line&gt; runs on into the next), generic font family only, no scripts or
/// external references, numbers with at most two decimals (so the same drawing gives the same bytes).</summary>
internal sealed class SvgCanvas : IChartCanvas
{
    readonly StringBuilder svg = new();

    public void Begin(int width, int height, string title)
    {
        svg.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        svg.Append($"<title>{Escape(title)}</title>\n");
    }

    /// <summary>The finished document.</summary>
    public string Result() => svg.ToString() + "</svg>\n";

    public void Rect(double x, double y, double width, double height, ChartPaint paint) =>
        svg.Append($"<rect x=\"{F(x)}\" y=\"{F(y)}\" width=\"{F(width)}\" height=\"{F(height)}\"{Paint(paint, fillable: true)}/>\n");

    public void Line(double x1, double y1, double x2, double y2, ChartPaint paint) =>
        svg.Append($"<line x1=\"{F(x1)}\" y1=\"{F(y1)}\" x2=\"{F(x2)}\" y2=\"{F(y2)}\"{Paint(paint, fillable: false)}/>");   // lines run on: a tick's grid line, mark and label share a line

    public void Polyline(IReadOnlyList<(double X, double Y)> points, ChartPaint paint) =>
        svg.Append($"<polyline{Paint(paint, fillable: true)} points=\"{Points(points)}\"/>\n");

    public void Polygon(IReadOnlyList<(double X, double Y)> points, ChartPaint paint) =>
        svg.Append($"<polygon points=\"{Points(points)}\"{Paint(paint, fillable: true)}/>\n");

    public void Circle(double cx, double cy, double r, ChartPaint paint) =>
        svg.Append($"<circle cx=\"{F(cx)}\" cy=\"{F(cy)}\" r=\"{F(r)}\"{Paint(paint, fillable: true)}/>\n");

    public void Segments(IReadOnlyList<(double X1, double Y1, double X2, double Y2)> segments, ChartPaint paint)
    {
        svg.Append("<path d=\"");
        foreach (var s in segments) svg.Append($"M{F(s.X1)} {F(s.Y1)}L{F(s.X2)} {F(s.Y2)}");
        svg.Append($"\"{Paint(paint, fillable: true)}/>\n");
    }

    public void Text(double x, double y, ChartText t)
    {
        svg.Append(t.Rotated ? $"<text transform=\"translate({F(x)} {F(y)}) rotate(-90)\"" : $"<text x=\"{F(x)}\" y=\"{F(y)}\"");
        if (t.Anchor != TextAnchor.Start) svg.Append(t.Anchor == TextAnchor.Middle ? " text-anchor=\"middle\"" : " text-anchor=\"end\"");
        if (t.MiddleBaseline) svg.Append(" dominant-baseline=\"middle\"");
        if (t.Size != 12) svg.Append($" font-size=\"{F(t.Size)}\"");
        if (t.Bold) svg.Append(" font-weight=\"bold\"");
        svg.Append('>').Append(Escape(t.Text));
        if (t.Superscript is not null) svg.Append($"<tspan dy=\"-6\" font-size=\"9\">{Escape(t.Superscript)}</tspan>");
        svg.Append("</text>\n");
    }

    public void BeginClip(string id, double x, double y, double width, double height) =>
        svg.Append($"<defs><clipPath id=\"{id}\"><rect x=\"{F(x)}\" y=\"{F(y)}\" width=\"{F(width)}\" height=\"{F(height)}\"/></clipPath></defs>\n<g clip-path=\"url(#{id})\">\n");

    public void EndClip() => svg.Append("</g>\n");

    public void BeginGroup(string cssClass) => svg.Append($"<g class=\"{cssClass}\">");

    public void EndGroup() => svg.Append("</g>\n");

    // Attributes in a fixed order; SVG's defaults (fill black, opacity 1, stroke-width 1) are left out.
    static string Paint(ChartPaint p, bool fillable)
    {
        var a = new StringBuilder();
        if (fillable) a.Append($" fill=\"{p.Fill ?? "none"}\"");
        if (p.Fill is not null && p.FillOpacity != 1) a.Append($" fill-opacity=\"{F(p.FillOpacity)}\"");
        if (p.Stroke is not null)
        {
            a.Append($" stroke=\"{p.Stroke}\"");
            if (p.StrokeWidth != 1) a.Append($" stroke-width=\"{F(p.StrokeWidth)}\"");
            if (p.Dashed) a.Append(" stroke-dasharray=\"6 4\"");
        }
        return a.ToString();
    }

    static string Points(IReadOnlyList<(double X, double Y)> points) => string.Join(" ", points.Select(p => $"{F(p.X)},{F(p.Y)}"));

    static string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);

    static string Escape(string s) => Levels.HtmlText.Escape(s);
}
