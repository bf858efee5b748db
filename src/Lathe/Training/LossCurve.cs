using System.Globalization;
using System.Text;

namespace Lathe.Training;

/// <summary>Renders training and validation loss against step as a self-contained SVG line chart.</summary>
public static class LossCurve
{
    const int Width = 720, Height = 400, Left = 60, Right = 20, Top = 20, Bottom = 40;

    public static string Svg(IReadOnlyList<(double Step, double Loss)> train, IReadOnlyList<(double Step, double Loss)> validation)
    {
        double xMax = 1, yMin = double.MaxValue, yMax = double.MinValue;
        foreach (var s in new[] { train, validation })
            foreach (var (x, y) in s)
            {
                if (!double.IsFinite(y)) continue;
                xMax = Math.Max(xMax, x); yMin = Math.Min(yMin, y); yMax = Math.Max(yMax, y);
            }
        if (yMin > yMax) { yMin = 0; yMax = 1; }
        if (yMax - yMin < 1e-9) { yMax += 0.5; yMin -= 0.5; }
        double pw = Width - Left - Right, ph = Height - Top - Bottom;
        string X(double v) => (Left + v / xMax * pw).ToString("F1", CultureInfo.InvariantCulture);
        string Y(double v) => (Top + (yMax - v) / (yMax - yMin) * ph).ToString("F1", CultureInfo.InvariantCulture);
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{Left}\" y=\"{Top}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#888\"/>\n");
        for (int i = 0; i <= 4; i++)
        {
            double v = yMin + (yMax - yMin) * i / 4;
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 6}\" y=\"{Y(v)}\" text-anchor=\"end\">{v:F2}</text>\n");
            double s = xMax * i / 4;
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{X(s)}\" y=\"{Height - Bottom + 16}\" text-anchor=\"middle\">{s:F0}</text>\n");
        }
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left + pw / 2}\" y=\"{Height - 6}\" text-anchor=\"middle\">step</text>\n");
        Polyline(sb, train, "#1f77b4", X, Y);
        Polyline(sb, validation, "#d62728", X, Y);
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left + 10}\" y=\"{Top + 16}\" fill=\"#1f77b4\">train loss</text>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left + 10}\" y=\"{Top + 32}\" fill=\"#d62728\">validation loss</text>\n");
        sb.Append("</svg>\n");
        return sb.ToString();
    }

    static void Polyline(StringBuilder sb, IReadOnlyList<(double Step, double Loss)> points, string color, Func<double, string> x, Func<double, string> y)
    {
        if (points.Count == 0) return;
        sb.Append("<polyline fill=\"none\" stroke=\"").Append(color).Append("\" stroke-width=\"1.5\" points=\"");
        foreach (var (s, l) in points)
            if (double.IsFinite(l)) sb.Append(x(s)).Append(',').Append(y(l)).Append(' ');
        sb.Append("\"/>\n");
    }
}
