namespace Lathe.Evaluation.Scaling;

/// <summary>How a shape is painted: a fill (null = none) with its opacity, and a stroke (null = none) of a width,
/// solid or dashed 6-on 4-off. Colours are "#rgb", "#rrggbb" or "white".</summary>
internal readonly record struct ChartPaint(string? Fill = null, double FillOpacity = 1, string? Stroke = null, double StrokeWidth = 1, bool Dashed = false)
{
    public static ChartPaint StrokeOnly(string color, double width = 1, bool dashed = false) => new(null, 1, color, width, dashed);
}

/// <summary>Where a text's x falls along it.</summary>
internal enum TextAnchor { Start, Middle, End }

/// <summary>A run of text at (x, y): y is its baseline, or its middle when <see cref="MiddleBaseline"/>; an optional
/// superscript follows it (the exponent of "10³" tick labels); <see cref="Rotated"/> turns it 90° anticlockwise about
/// (x, y) so it reads upwards, as a y-axis label does.</summary>
internal readonly record struct ChartText(string Text, TextAnchor Anchor = TextAnchor.Start, bool MiddleBaseline = false,
    double Size = 12, bool Bold = false, bool Rotated = false, string? Superscript = null);

/// <summary>What a chart draws on, in chart units (pixels of the SVG): one drawing, two outputs — <see cref="SvgCanvas"/>
/// writes it as SVG elements, <see cref="RasterCanvas"/> paints it into pixels for a PNG. Shapes are drawn in call
/// order, later over earlier.</summary>
internal interface IChartCanvas
{
    void Begin(int width, int height, string title);
    void Rect(double x, double y, double width, double height, ChartPaint paint);
    void Line(double x1, double y1, double x2, double y2, ChartPaint paint);
    void Polyline(IReadOnlyList<(double X, double Y)> points, ChartPaint paint);
    void Polygon(IReadOnlyList<(double X, double Y)> points, ChartPaint paint);
    void Circle(double cx, double cy, double r, ChartPaint paint);
    /// <summary>Separate straight strokes drawn as one shape (a cross marker).</summary>
    void Segments(IReadOnlyList<(double X1, double Y1, double X2, double Y2)> segments, ChartPaint paint);
    void Text(double x, double y, ChartText text);
    /// <summary>Shapes until <see cref="EndClip"/> show only inside the rectangle.</summary>
    void BeginClip(string id, double x, double y, double width, double height);
    void EndClip();
    /// <summary>A named group (the legend): structure for SVG readers, nothing for pixels.</summary>
    void BeginGroup(string cssClass);
    void EndGroup();
}
