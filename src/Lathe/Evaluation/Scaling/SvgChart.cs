using System.Globalization;

namespace Lathe.Evaluation.Scaling;

/// <summary>Marker shapes of a point series.</summary>
public enum SvgMarker { Circle, Square, Diamond, Cross }

/// <summary>A small chart: one plot area with linear or logarithmic axes, ticks, grid, labels and a legend; point and
/// line series. Drawn once over <see cref="IChartCanvas"/> and output as self-contained SVG (<see cref="Render"/>: no
/// scripts, no external fonts or styles, generic font families only, so it renders the same offline, in a browser, or
/// embedded in a report) or as a PNG painted by our own rasteriser (<see cref="RenderPng"/>). Deterministic: the same
/// series give the same bytes.</summary>
internal sealed class SvgChart(string title, string xLabel, string yLabel, bool logX, bool logY)
{
    /// <summary>Colours that stay distinct for the colour-blind (Okabe &amp; Ito 2008).</summary>
    public static readonly string[] Palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"];

    /// <summary>A colour along viridis (van der Walt &amp; Smith 2015), t in [0, 1], for series in an order (such as
    /// increasing compute); stops short of its pale yellow end, which vanishes on white.</summary>
    public static string Sequential(double t)
    {
        (int R, int G, int B)[] stops = [(0x44, 0x01, 0x54), (0x3b, 0x52, 0x8b), (0x21, 0x91, 0x8c), (0x5e, 0xc9, 0x62), (0xb5, 0xde, 0x2b)];
        double x = Math.Clamp(t, 0, 1) * (stops.Length - 1);
        int i = Math.Min((int)x, stops.Length - 2);
        double f = x - i;
        int Mix(int a, int b) => (int)Math.Round(a + (b - a) * f);
        return $"#{Mix(stops[i].R, stops[i + 1].R):x2}{Mix(stops[i].G, stops[i + 1].G):x2}{Mix(stops[i].B, stops[i + 1].B):x2}";
    }

    const int Width = 760, Height = 500;
    const int Left = 78, Right = 24, Top = 44, Bottom = 62;

    sealed record Series(string? Label, List<(double X, double Y)> Points, string Color, bool Line, bool Dashed, SvgMarker Marker, bool Hollow, double Size);

    readonly List<Series> series = [];

    /// <summary>Where the legend sits inside the plot area: the corner the data leave empty.</summary>
    public bool LegendLeft { get; set; }
    public bool LegendBottom { get; set; }
    (double Lo, double Hi)? fixedX, fixedY;

    /// <summary>Points drawn as markers; a null label keeps the series out of the legend.</summary>
    public void AddPoints(string? label, IEnumerable<(double X, double Y)> points, string color, SvgMarker marker = SvgMarker.Circle, bool hollow = false, double size = 4) =>
        series.Add(new(label, Usable(points), color, false, false, marker, hollow, size));

    /// <summary>A polyline through the points in the order given.</summary>
    public void AddLine(string? label, IEnumerable<(double X, double Y)> points, string color, bool dashed = false) =>
        series.Add(new(label, Usable(points), color, true, dashed, SvgMarker.Circle, false, 0));

    /// <summary>Fixes an axis range instead of fitting it to the data.</summary>
    public void SetRange(double xLo, double xHi, double yLo, double yHi) { fixedX = (xLo, xHi); fixedY = (yLo, yHi); }

    // Points that can be placed: finite, and positive on a log axis.
    List<(double X, double Y)> Usable(IEnumerable<(double X, double Y)> points) =>
        points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y) && (!logX || p.X > 0) && (!logY || p.Y > 0)).ToList();

    /// <summary>The chart as a self-contained SVG document.</summary>
    public string Render()
    {
        var svg = new SvgCanvas();
        Draw(svg);
        return svg.Result();
    }

    /// <summary>The same chart as a PNG (8-bit RGB, <paramref name="scale"/> device pixels per chart unit, so 1520×1000
    /// at the default 2).</summary>
    public byte[] RenderPng(int scale = 2)
    {
        var raster = new RasterCanvas(scale);
        Draw(raster);
        return raster.EncodePng();
    }

    /// <summary>The drawing, once, for every backend.</summary>
    void Draw(IChartCanvas canvas)
    {
        var (xLo, xHi) = fixedX ?? Range(series.SelectMany(s => s.Points).Select(p => p.X), logX);
        var (yLo, yHi) = fixedY ?? Range(series.SelectMany(s => s.Points).Select(p => p.Y), logY);
        var xAxis = new Axis(xLo, xHi, logX, Left, Width - Right);
        var yAxis = new Axis(yLo, yHi, logY, Height - Bottom, Top);
        canvas.Begin(Width, Height, title);
        canvas.Rect(0, 0, Width, Height, new ChartPaint(Fill: "white"));
        // Grid and ticks.
        var grid = ChartPaint.StrokeOnly("#e4e4e4");
        var ink = ChartPaint.StrokeOnly("#333");
        foreach (var (value, label, exponent) in xAxis.Ticks())
        {
            double x = xAxis.Map(value);
            canvas.Line(x, Top, x, Height - Bottom, grid);
            canvas.Line(x, Height - Bottom, x, Height - Bottom + 5, ink);
            canvas.Text(x, Height - Bottom + 19, new ChartText(label, TextAnchor.Middle, Superscript: exponent));
        }
        foreach (var (value, label, exponent) in yAxis.Ticks())
        {
            double y = yAxis.Map(value);
            canvas.Line(Left, y, Width - Right, y, grid);
            canvas.Line(Left - 5, y, Left, y, ink);
            canvas.Text(Left - 8, y, new ChartText(label, TextAnchor.End, MiddleBaseline: true, Superscript: exponent));
        }
        canvas.Rect(Left, Top, Width - Left - Right, Height - Top - Bottom, ink);
        canvas.Text(Width / 2, 24, new ChartText(title, TextAnchor.Middle, Size: 15, Bold: true));
        canvas.Text((Left + Width - Right) / 2, Height - 18, new ChartText(xLabel, TextAnchor.Middle, Size: 13));
        canvas.Text(20, (Top + Height - Bottom) / 2, new ChartText(yLabel, TextAnchor.Middle, Size: 13, Rotated: true));
        // Series, clipped to the plot area.
        canvas.BeginClip("plot", Left, Top, Width - Left - Right, Height - Top - Bottom);
        foreach (var s in series)
        {
            if (s.Points.Count == 0) continue;
            if (s.Line)
                canvas.Polyline(s.Points.Select(p => (xAxis.Map(p.X), yAxis.Map(p.Y))).ToList(),
                    ChartPaint.StrokeOnly(s.Color, 2, s.Dashed));
            else
                foreach (var p in s.Points) Marker(canvas, s, xAxis.Map(p.X), yAxis.Map(p.Y));
        }
        canvas.EndClip();
        Legend(canvas);
    }

    // Legend box in a corner of the plot area.
    void Legend(IChartCanvas canvas)
    {
        var entries = series.Where(s => s.Label is not null).ToList();
        if (entries.Count == 0) return;
        int rowHeight = 18;
        int boxWidth = 24 + 7 * entries.Max(e => e.Label!.Length) + 12;
        int boxHeight = entries.Count * rowHeight + 8;
        int x0 = LegendLeft ? Left + 8 : Width - Right - boxWidth - 8, y0 = LegendBottom ? Height - Bottom - boxHeight - 8 : Top + 8;
        canvas.BeginGroup("legend");
        canvas.Rect(x0, y0, boxWidth, boxHeight, new ChartPaint("white", 0.9, "#999"));
        for (int i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            double cy = y0 + 4 + rowHeight * i + rowHeight / 2.0;
            if (e.Line)
                canvas.Line(x0 + 6, cy, x0 + 24, cy, ChartPaint.StrokeOnly(e.Color, 2, e.Dashed));
            else
                Marker(canvas, e, x0 + 15, cy);
            canvas.Text(x0 + 30, cy, new ChartText(e.Label!, MiddleBaseline: true));
        }
        canvas.EndGroup();
    }

    static void Marker(IChartCanvas canvas, Series s, double x, double y)
    {
        var paint = s.Hollow ? new ChartPaint("white", 1, s.Color, 1.5) : new ChartPaint(s.Color, 0.85, "white", 0.5);
        double r = s.Size;
        switch (s.Marker)
        {
            case SvgMarker.Square: canvas.Rect(x - r, y - r, 2 * r, 2 * r, paint); break;
            case SvgMarker.Diamond: canvas.Polygon([(x, y - r * 1.3), (x + r * 1.3, y), (x, y + r * 1.3), (x - r * 1.3, y)], paint); break;
            case SvgMarker.Cross: canvas.Segments([(x - r, y - r, x + r, y + r), (x - r, y + r, x + r, y - r)], ChartPaint.StrokeOnly(s.Color, 2)); break;
            default: canvas.Circle(x, y, r, paint); break;
        }
    }

    // The data's range padded by 5% of its span (in log space on a log axis), so no point sits on the frame.
    static (double Lo, double Hi) Range(IEnumerable<double> values, bool log)
    {
        var v = values.Select(x => log ? Math.Log10(x) : x).ToArray();
        if (v.Length == 0) return log ? (1, 10) : (0, 1);
        double lo = v.Min(), hi = v.Max();
        if (hi - lo < 1e-12 * Math.Max(1, Math.Abs(hi))) { lo -= log ? 0.5 : Math.Max(0.5, Math.Abs(lo) * 0.1); hi += log ? 0.5 : Math.Max(0.5, Math.Abs(hi) * 0.1); }
        double pad = 0.05 * (hi - lo);
        lo -= pad; hi += pad;
        return log ? (Math.Pow(10, lo), Math.Pow(10, hi)) : (lo, hi);
    }

    /// <summary>An axis mapping data values to pixels, and choosing its ticks.</summary>
    sealed class Axis(double lo, double hi, bool log, double pixelLo, double pixelHi)
    {
        readonly double a = log ? Math.Log10(lo) : lo, b = log ? Math.Log10(hi) : hi;

        public double Map(double value)
        {
            double t = ((log ? Math.Log10(value) : value) - a) / (b - a);
            return pixelLo + t * (pixelHi - pixelLo);
        }

        // Decades on a log axis spanning at least one; otherwise 1-2-5 steps (in log space when the log axis is short).
        public IEnumerable<(double Value, string Label, string? Exponent)> Ticks()
        {
            if (log && b - a >= 1)
            {
                int step = Math.Max(1, (int)Math.Ceiling((b - a) / 8));
                for (int k = (int)Math.Ceiling(a); k <= Math.Floor(b); k++)
                    if (k % step == 0) yield return (Math.Pow(10, k), "10", k.ToString(CultureInfo.InvariantCulture));
                yield break;
            }
            double lo = log ? Math.Pow(10, a) : a, hi = log ? Math.Pow(10, b) : b;
            double niceStep = Nice((hi - lo) / 5);
            for (double v = Math.Ceiling(lo / niceStep) * niceStep; v <= hi + niceStep * 1e-9; v += niceStep)
                yield return (v, (Math.Abs(v) < niceStep * 1e-9 ? 0 : v).ToString("G4", CultureInfo.InvariantCulture), null);
        }

        static double Nice(double raw)
        {
            double power = Math.Pow(10, Math.Floor(Math.Log10(raw)));
            double m = raw / power;
            return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * power;
        }
    }
}
