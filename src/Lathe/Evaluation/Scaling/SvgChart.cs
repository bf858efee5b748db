using System.Globalization;
using System.Text;

namespace Lathe.Evaluation.Scaling;

/// <summary>Marker shapes of a point series.</summary>
public enum SvgMarker { Circle, Square, Diamond, Cross }

/// <summary>A small self-contained SVG chart: one plot area with linear or logarithmic axes, ticks, grid, labels and a
/// legend; point and line series. No scripts, no external fonts or styles (generic font families only), so the file
/// renders the same offline, in a browser, or embedded in a report. Deterministic: the same series give the same
/// bytes.</summary>
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

    public string Render()
    {
        var (xLo, xHi) = fixedX ?? Range(series.SelectMany(s => s.Points).Select(p => p.X), logX);
        var (yLo, yHi) = fixedY ?? Range(series.SelectMany(s => s.Points).Select(p => p.Y), logY);
        var xAxis = new Axis(xLo, xHi, logX, Left, Width - Right);
        var yAxis = new Axis(yLo, yHi, logY, Height - Bottom, Top);
        var svg = new StringBuilder();
        svg.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        svg.Append($"<title>{Escape(title)}</title>\n");
        svg.Append($"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>\n");
        svg.Append($"<defs><clipPath id=\"plot\"><rect x=\"{Left}\" y=\"{Top}\" width=\"{Width - Left - Right}\" height=\"{Height - Top - Bottom}\"/></clipPath></defs>\n");
        // Grid and ticks.
        foreach (var (value, label) in xAxis.Ticks())
        {
            string x = F(xAxis.Map(value));
            svg.Append($"<line x1=\"{x}\" y1=\"{Top}\" x2=\"{x}\" y2=\"{Height - Bottom}\" stroke=\"#e4e4e4\"/>");
            svg.Append($"<line x1=\"{x}\" y1=\"{Height - Bottom}\" x2=\"{x}\" y2=\"{Height - Bottom + 5}\" stroke=\"#333\"/>");
            svg.Append($"<text x=\"{x}\" y=\"{Height - Bottom + 19}\" text-anchor=\"middle\">{label}</text>\n");
        }
        foreach (var (value, label) in yAxis.Ticks())
        {
            string y = F(yAxis.Map(value));
            svg.Append($"<line x1=\"{Left}\" y1=\"{y}\" x2=\"{Width - Right}\" y2=\"{y}\" stroke=\"#e4e4e4\"/>");
            svg.Append($"<line x1=\"{Left - 5}\" y1=\"{y}\" x2=\"{Left}\" y2=\"{y}\" stroke=\"#333\"/>");
            svg.Append($"<text x=\"{Left - 8}\" y=\"{y}\" text-anchor=\"end\" dominant-baseline=\"middle\">{label}</text>\n");
        }
        svg.Append($"<rect x=\"{Left}\" y=\"{Top}\" width=\"{Width - Left - Right}\" height=\"{Height - Top - Bottom}\" fill=\"none\" stroke=\"#333\"/>\n");
        svg.Append($"<text x=\"{Width / 2}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">{Escape(title)}</text>\n");
        svg.Append($"<text x=\"{(Left + Width - Right) / 2}\" y=\"{Height - 18}\" text-anchor=\"middle\" font-size=\"13\">{Escape(xLabel)}</text>\n");
        svg.Append($"<text transform=\"translate(20 {(Top + Height - Bottom) / 2}) rotate(-90)\" text-anchor=\"middle\" font-size=\"13\">{Escape(yLabel)}</text>\n");
        // Series, clipped to the plot area.
        svg.Append("<g clip-path=\"url(#plot)\">\n");
        foreach (var s in series)
        {
            if (s.Points.Count == 0) continue;
            if (s.Line)
            {
                svg.Append($"<polyline fill=\"none\" stroke=\"{s.Color}\" stroke-width=\"2\"{(s.Dashed ? " stroke-dasharray=\"6 4\"" : "")} points=\"");
                svg.Append(string.Join(" ", s.Points.Select(p => $"{F(xAxis.Map(p.X))},{F(yAxis.Map(p.Y))}")));
                svg.Append("\"/>\n");
            }
            else
                foreach (var p in s.Points) svg.Append(Marker(s, xAxis.Map(p.X), yAxis.Map(p.Y))).Append('\n');
        }
        svg.Append("</g>\n");
        Legend(svg);
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    // Legend box in the top-right corner of the plot area.
    void Legend(StringBuilder svg)
    {
        var entries = series.Where(s => s.Label is not null).ToList();
        if (entries.Count == 0) return;
        int rowHeight = 18;
        int boxWidth = 24 + 7 * entries.Max(e => e.Label!.Length) + 12;
        int boxHeight = entries.Count * rowHeight + 8;
        int x0 = LegendLeft ? Left + 8 : Width - Right - boxWidth - 8, y0 = LegendBottom ? Height - Bottom - boxHeight - 8 : Top + 8;
        svg.Append($"<g class=\"legend\"><rect x=\"{x0}\" y=\"{y0}\" width=\"{boxWidth}\" height=\"{boxHeight}\" fill=\"white\" fill-opacity=\"0.9\" stroke=\"#999\"/>\n");
        for (int i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            double cy = y0 + 4 + rowHeight * i + rowHeight / 2.0;
            if (e.Line)
                svg.Append($"<line x1=\"{x0 + 6}\" y1=\"{F(cy)}\" x2=\"{x0 + 24}\" y2=\"{F(cy)}\" stroke=\"{e.Color}\" stroke-width=\"2\"{(e.Dashed ? " stroke-dasharray=\"6 4\"" : "")}/>");
            else
                svg.Append(Marker(e, x0 + 15, cy));
            svg.Append($"<text x=\"{x0 + 30}\" y=\"{F(cy)}\" dominant-baseline=\"middle\">{Escape(e.Label!)}</text>\n");
        }
        svg.Append("</g>\n");
    }

    static string Marker(Series s, double x, double y)
    {
        string paint = s.Hollow ? $"fill=\"white\" stroke=\"{s.Color}\" stroke-width=\"1.5\"" : $"fill=\"{s.Color}\" fill-opacity=\"0.85\" stroke=\"white\" stroke-width=\"0.5\"";
        double r = s.Size;
        return s.Marker switch
        {
            SvgMarker.Square => $"<rect x=\"{F(x - r)}\" y=\"{F(y - r)}\" width=\"{F(2 * r)}\" height=\"{F(2 * r)}\" {paint}/>",
            SvgMarker.Diamond => $"<polygon points=\"{F(x)},{F(y - r * 1.3)} {F(x + r * 1.3)},{F(y)} {F(x)},{F(y + r * 1.3)} {F(x - r * 1.3)},{F(y)}\" {paint}/>",
            SvgMarker.Cross => $"<path d=\"M{F(x - r)} {F(y - r)}L{F(x + r)} {F(y + r)}M{F(x - r)} {F(y + r)}L{F(x + r)} {F(y - r)}\" stroke=\"{s.Color}\" stroke-width=\"2\" fill=\"none\"/>",
            _ => $"<circle cx=\"{F(x)}\" cy=\"{F(y)}\" r=\"{F(r)}\" {paint}/>",
        };
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
        public IEnumerable<(double Value, string Label)> Ticks()
        {
            if (log && b - a >= 1)
            {
                int step = Math.Max(1, (int)Math.Ceiling((b - a) / 8));
                for (int k = (int)Math.Ceiling(a); k <= Math.Floor(b); k++)
                    if (k % step == 0) yield return (Math.Pow(10, k), $"10<tspan dy=\"-6\" font-size=\"9\">{k}</tspan>");
                yield break;
            }
            double lo = log ? Math.Pow(10, a) : a, hi = log ? Math.Pow(10, b) : b;
            double niceStep = Nice((hi - lo) / 5);
            for (double v = Math.Ceiling(lo / niceStep) * niceStep; v <= hi + niceStep * 1e-9; v += niceStep)
                yield return (v, Escape((Math.Abs(v) < niceStep * 1e-9 ? 0 : v).ToString("G4", CultureInfo.InvariantCulture)));
        }

        static double Nice(double raw)
        {
            double power = Math.Pow(10, Math.Floor(Math.Log10(raw)));
            double m = raw / power;
            return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * power;
        }
    }

    static string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);

    internal static string Escape(string s) => Levels.HtmlText.Escape(s);
}
