using System.Globalization;

namespace Lathe.Evaluation.Scaling;

/// <summary>The pixel backend of <see cref="IChartCanvas"/>: paints the chart into an RGB image at <c>scale</c> device
/// pixels per chart unit, for <see cref="PngEncoder"/>. Each shape is first rendered as coverage (0–1 per pixel, the
/// largest over its parts, so a polyline's joints and a cross's centre are not painted twice), then composited once in
/// its colour over what is there: "over" with alpha = coverage × opacity. Coverage is anti-aliased analytically: for a
/// stroke, from the distance of the pixel's centre to the segment (a pixel within half the width less half a pixel is
/// covered, one beyond half the width plus half a pixel is not, linear between); for a circle, from the distance to
/// its centre; for a rectangle, the exact overlap area; a polygon, 4×4 samples a pixel. Text is the 5×7
/// <see cref="BitmapFont"/>, each dot a square of whole device pixels, crisp. All arithmetic is in doubles in a fixed
/// order, so the same drawing gives the same pixels.</summary>
internal sealed class RasterCanvas(int scale) : IChartCanvas
{
    int width, height;
    byte[] rgb = [];
    float[] coverage = [];
    // The box of pixels the current shape touched (x0 ≤ x < x1): compositing visits only these.
    int bx0, by0, bx1, by1;
    // The clip in device pixels.
    int cx0, cy0, cx1, cy1;

    public int Width => width;
    public int Height => height;
    public byte[] Pixels => rgb;

    public void Begin(int chartWidth, int chartHeight, string title)
    {
        if (scale < 1 || scale > 8) throw new ArgumentException($"png scale must be 1–8 (got {scale})");
        width = chartWidth * scale;
        height = chartHeight * scale;
        rgb = new byte[width * height * 3];
        Array.Fill(rgb, (byte)255);
        coverage = new float[width * height];
        EndClip();
        ResetBox();
    }

    public byte[] EncodePng() => PngEncoder.EncodeRgb(width, height, rgb);

    public void Rect(double x, double y, double w, double h, ChartPaint paint)
    {
        double x0 = x * scale, y0 = y * scale, x1 = (x + w) * scale, y1 = (y + h) * scale;
        if (paint.Fill is not null)
        {
            CoverBox(x0, y0, x1, y1, 1);
            Composite(paint.Fill, paint.FillOpacity);
        }
        if (paint.Stroke is not null)
        {
            // The ring between the outer and inner rectangles, exactly (mitred corners, as SVG draws them).
            double half = paint.StrokeWidth * scale / 2;
            CoverBox(x0 - half, y0 - half, x1 + half, y1 + half, 1);
            CoverBox(x0 + half, y0 + half, x1 - half, y1 - half, -1);
            Composite(paint.Stroke, 1);
        }
    }

    public void Line(double x1, double y1, double x2, double y2, ChartPaint paint)
    {
        if (paint.Stroke is null) return;
        Stroke([(x1, y1), (x2, y2)], paint, butt: true);
    }

    public void Polyline(IReadOnlyList<(double X, double Y)> points, ChartPaint paint)
    {
        if (paint.Fill is not null) { CoverPolygon(points); Composite(paint.Fill, paint.FillOpacity); }
        // Round joins and caps on a solid polyline so a smooth curve's joints have no notches.
        if (paint.Stroke is not null) Stroke(points, paint, butt: paint.Dashed);
    }

    public void Polygon(IReadOnlyList<(double X, double Y)> points, ChartPaint paint)
    {
        if (paint.Fill is not null) { CoverPolygon(points); Composite(paint.Fill, paint.FillOpacity); }
        if (paint.Stroke is not null) Stroke([.. points, points[0]], paint, butt: false);
    }

    public void Circle(double cx, double cy, double r, ChartPaint paint)
    {
        double x = cx * scale, y = cy * scale, radius = r * scale;
        if (paint.Fill is not null) { CoverDisc(x, y, radius); Composite(paint.Fill, paint.FillOpacity); }
        if (paint.Stroke is not null)
        {
            double half = paint.StrokeWidth * scale / 2;
            CoverRing(x, y, radius, half);
            Composite(paint.Stroke, 1);
        }
    }

    public void Segments(IReadOnlyList<(double X1, double Y1, double X2, double Y2)> segments, ChartPaint paint)
    {
        if (paint.Stroke is null) return;
        double half = paint.StrokeWidth * scale / 2;
        foreach (var s in segments) CoverSegment(s.X1 * scale, s.Y1 * scale, s.X2 * scale, s.Y2 * scale, half, butt: true);
        Composite(paint.Stroke, 1);
    }

    public void BeginClip(string id, double x, double y, double w, double h)
    {
        cx0 = Math.Max(0, (int)Math.Floor(x * scale));
        cy0 = Math.Max(0, (int)Math.Floor(y * scale));
        cx1 = Math.Min(width, (int)Math.Ceiling((x + w) * scale));
        cy1 = Math.Min(height, (int)Math.Ceiling((y + h) * scale));
    }

    public void EndClip() => (cx0, cy0, cx1, cy1) = (0, 0, width, height);

    public void BeginGroup(string cssClass) { }

    public void EndGroup() { }

    // ---- Text ----

    public void Text(double x, double y, ChartText t)
    {
        // Dot size in device pixels: 12-unit text gets `scale` pixels a dot (a ×2 font at the default scale), larger
        // text proportionally more; a superscript half of that.
        int dot = Math.Max(1, (int)Math.Round(scale * t.Size / 12, MidpointRounding.AwayFromZero));
        int supDot = Math.Max(1, dot / 2);
        int main = BitmapFont.Width(t.Text) * dot + (t.Bold ? 1 : 0);
        int sup = t.Superscript is null ? 0 : dot + BitmapFont.Width(t.Superscript) * supDot;
        int total = main + sup;
        // Text-space origin: u along the text, v down from the baseline; both whole device pixels, so dots land on
        // pixel boundaries.
        int ox = (int)Math.Round(x * scale, MidpointRounding.AwayFromZero), oy = (int)Math.Round(y * scale, MidpointRounding.AwayFromZero);
        int u = t.Anchor switch { TextAnchor.Middle => -total / 2, TextAnchor.End => -total, _ => 0 };
        int v = t.MiddleBaseline ? (BitmapFont.Ascent * dot + 1) / 2 : 0;   // the capitals' middle on y
        var color = Parse("#000");
        DrawRun(t.Text, ox, oy, u, v, dot, t.Rotated, color);
        if (t.Bold) DrawRun(t.Text, ox, oy, u + 1, v, dot, t.Rotated, color);
        // SVG raises the superscript 6 units (dy="-6").
        if (t.Superscript is not null) DrawRun(t.Superscript, ox, oy, u + main + dot, v - 6 * scale, supDot, t.Rotated, color);
    }

    void DrawRun(string text, int ox, int oy, int u, int v, int dot, bool rotated, (int R, int G, int B) color)
    {
        foreach (char c in text)
        {
            var glyph = BitmapFont.Glyph(c);
            for (int row = 0; row < glyph.Length; row++)
                for (int k = 0; k < BitmapFont.GlyphWidth; k++)
                {
                    if ((glyph[row] >> (BitmapFont.GlyphWidth - 1 - k) & 1) == 0) continue;
                    int du = u + k * dot, dv = v + (row - BitmapFont.Ascent) * dot;
                    // Rotated 90° anticlockwise (SVG rotate(-90)): u runs up the image, v to the right.
                    if (rotated) FillPixels(ox + dv, oy - du - dot, ox + dv + dot, oy - du, color);
                    else FillPixels(ox + du, oy + dv, ox + du + dot, oy + dv + dot, color);
                }
            u += BitmapFont.Advance * dot;
        }
    }

    void FillPixels(int x0, int y0, int x1, int y1, (int R, int G, int B) color)
    {
        x0 = Math.Max(x0, cx0); y0 = Math.Max(y0, cy0); x1 = Math.Min(x1, cx1); y1 = Math.Min(y1, cy1);
        for (int py = y0; py < y1; py++)
            for (int px = x0; px < x1; px++)
            {
                int i = (py * width + px) * 3;
                rgb[i] = (byte)color.R; rgb[i + 1] = (byte)color.G; rgb[i + 2] = (byte)color.B;
            }
    }

    // ---- Coverage ----

    void Stroke(IReadOnlyList<(double X, double Y)> points, ChartPaint paint, bool butt)
    {
        double half = paint.StrokeWidth * scale / 2;
        if (!paint.Dashed)
        {
            for (int i = 0; i + 1 < points.Count; i++)
                CoverSegment(points[i].X * scale, points[i].Y * scale, points[i + 1].X * scale, points[i + 1].Y * scale, half, butt);
            if (points.Count == 1) CoverSegment(points[0].X * scale, points[0].Y * scale, points[0].X * scale, points[0].Y * scale, half, butt: false);
        }
        else
        {
            // The 6-on, 4-off pattern (stroke-dasharray="6 4") runs on along the whole polyline, across its vertices.
            double on = 6 * scale, period = 10 * scale, phase = 0;
            for (int i = 0; i + 1 < points.Count; i++)
            {
                double x1 = points[i].X * scale, y1 = points[i].Y * scale, x2 = points[i + 1].X * scale, y2 = points[i + 1].Y * scale;
                double length = Math.Sqrt((x2 - x1) * (x2 - x1) + (y2 - y1) * (y2 - y1));
                double at = 0;
                while (at < length)
                {
                    double left = phase < on ? on - phase : period - phase;   // to the end of this dash or gap
                    double step = Math.Min(left, length - at);
                    if (phase < on && length > 0)
                    {
                        double a = at / length, b = (at + step) / length;
                        CoverSegment(x1 + (x2 - x1) * a, y1 + (y2 - y1) * a, x1 + (x2 - x1) * b, y1 + (y2 - y1) * b, half, butt: true);
                    }
                    at += step;
                    phase = (phase + step) % period;
                }
            }
        }
        Composite(paint.Stroke!, 1);
    }

    // A straight stroke of half-width `half` (device pixels). Butt: it ends at its endpoints; otherwise round caps.
    void CoverSegment(double x1, double y1, double x2, double y2, double half, bool butt)
    {
        double reach = half + 1;
        int px0 = Math.Max(cx0, (int)Math.Floor(Math.Min(x1, x2) - reach)), px1 = Math.Min(cx1, (int)Math.Ceiling(Math.Max(x1, x2) + reach));
        int py0 = Math.Max(cy0, (int)Math.Floor(Math.Min(y1, y2) - reach)), py1 = Math.Min(cy1, (int)Math.Ceiling(Math.Max(y1, y2) + reach));
        double dx = x2 - x1, dy = y2 - y1, length = Math.Sqrt(dx * dx + dy * dy);
        if (butt && length == 0) return;
        for (int py = py0; py < py1; py++)
            for (int px = px0; px < px1; px++)
            {
                double qx = px + 0.5 - x1, qy = py + 0.5 - y1, c;
                if (butt)
                {
                    double along = (qx * dx + qy * dy) / length, across = Math.Abs(qx * dy - qy * dx) / length;
                    c = Clamp01(half + 0.5 - across) * Clamp01(along + 0.5) * Clamp01(length - along + 0.5);
                }
                else
                {
                    double t = length > 0 ? Math.Clamp((qx * dx + qy * dy) / (length * length), 0, 1) : 0;
                    double ex = qx - t * dx, ey = qy - t * dy;
                    c = Clamp01(half + 0.5 - Math.Sqrt(ex * ex + ey * ey));
                }
                Cover(px, py, c);
            }
    }

    // A disc: coverage falls from 1 to 0 across the pixel straddling its edge.
    void CoverDisc(double x, double y, double radius)
    {
        int px0 = Math.Max(cx0, (int)Math.Floor(x - radius - 1)), px1 = Math.Min(cx1, (int)Math.Ceiling(x + radius + 1));
        int py0 = Math.Max(cy0, (int)Math.Floor(y - radius - 1)), py1 = Math.Min(cy1, (int)Math.Ceiling(y + radius + 1));
        for (int py = py0; py < py1; py++)
            for (int px = px0; px < px1; px++)
            {
                double ex = px + 0.5 - x, ey = py + 0.5 - y;
                Cover(px, py, Clamp01(radius + 0.5 - Math.Sqrt(ex * ex + ey * ey)));
            }
    }

    // A circle's outline: the pixels within `half` of the circle of radius `radius` about (x, y).
    void CoverRing(double x, double y, double radius, double half)
    {
        double reach = radius + half + 1;
        int px0 = Math.Max(cx0, (int)Math.Floor(x - reach)), px1 = Math.Min(cx1, (int)Math.Ceiling(x + reach));
        int py0 = Math.Max(cy0, (int)Math.Floor(y - reach)), py1 = Math.Min(cy1, (int)Math.Ceiling(y + reach));
        for (int py = py0; py < py1; py++)
            for (int px = px0; px < px1; px++)
            {
                double ex = px + 0.5 - x, ey = py + 0.5 - y;
                Cover(px, py, Clamp01(half + 0.5 - Math.Abs(Math.Sqrt(ex * ex + ey * ey) - radius)));
            }
    }

    // Adds sign × the exact area of each pixel inside the box (x0, y0)–(x1, y1).
    void CoverBox(double x0, double y0, double x1, double y1, int sign)
    {
        if (x1 <= x0 || y1 <= y0) return;
        int px0 = Math.Max(cx0, (int)Math.Floor(x0)), px1 = Math.Min(cx1, (int)Math.Ceiling(x1));
        int py0 = Math.Max(cy0, (int)Math.Floor(y0)), py1 = Math.Min(cy1, (int)Math.Ceiling(y1));
        for (int py = py0; py < py1; py++)
        {
            double fy = Math.Min(py + 1, y1) - Math.Max(py, y0);
            for (int px = px0; px < px1; px++)
            {
                double area = fy * (Math.Min(px + 1, x1) - Math.Max(px, x0));
                int i = py * width + px;
                if (sign > 0) Cover(px, py, area);
                else coverage[i] = (float)Math.Max(0, coverage[i] - area);
            }
        }
    }

    // Even-odd fill of a closed polygon, 4×4 samples a pixel.
    void CoverPolygon(IReadOnlyList<(double X, double Y)> points)
    {
        double minX = points.Min(p => p.X) * scale, maxX = points.Max(p => p.X) * scale;
        double minY = points.Min(p => p.Y) * scale, maxY = points.Max(p => p.Y) * scale;
        int px0 = Math.Max(cx0, (int)Math.Floor(minX)), px1 = Math.Min(cx1, (int)Math.Ceiling(maxX));
        int py0 = Math.Max(cy0, (int)Math.Floor(minY)), py1 = Math.Min(cy1, (int)Math.Ceiling(maxY));
        for (int py = py0; py < py1; py++)
            for (int px = px0; px < px1; px++)
            {
                int inside = 0;
                for (int sy = 0; sy < 4; sy++)
                    for (int sx = 0; sx < 4; sx++)
                        if (Inside(points, (px + (sx + 0.5) / 4) / scale, (py + (sy + 0.5) / 4) / scale)) inside++;
                Cover(px, py, inside / 16.0);
            }
    }

    static bool Inside(IReadOnlyList<(double X, double Y)> points, double x, double y)
    {
        bool inside = false;
        for (int i = 0, j = points.Count - 1; i < points.Count; j = i++)
        {
            var (xi, yi) = points[i];
            var (xj, yj) = points[j];
            if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) inside = !inside;
        }
        return inside;
    }

    void Cover(int px, int py, double c)
    {
        if (c <= 0) return;
        int i = py * width + px;
        if (c > coverage[i]) coverage[i] = (float)Math.Min(1, c);
        if (px < bx0) bx0 = px;
        if (px >= bx1) bx1 = px + 1;
        if (py < by0) by0 = py;
        if (py >= by1) by1 = py + 1;
    }

    // Paints the covered pixels in the colour, "over" what is there, and clears the coverage for the next shape.
    void Composite(string colorText, double opacity)
    {
        var color = Parse(colorText);
        for (int py = by0; py < by1; py++)
            for (int px = bx0; px < bx1; px++)
            {
                int i = py * width + px;
                double a = coverage[i] * opacity;
                if (a <= 0) continue;
                coverage[i] = 0;
                int k = i * 3;
                rgb[k] = Blend(rgb[k], color.R, a);
                rgb[k + 1] = Blend(rgb[k + 1], color.G, a);
                rgb[k + 2] = Blend(rgb[k + 2], color.B, a);
            }
        ResetBox();
    }

    static byte Blend(byte under, int over, double a) => (byte)(int)(under + (over - under) * a + 0.5);

    void ResetBox() => (bx0, by0, bx1, by1) = (int.MaxValue, int.MaxValue, 0, 0);

    static double Clamp01(double v) => v < 0 ? 0 : v > 1 ? 1 : v;

    /// <summary>"#rgb", "#rrggbb", "white" or "black" as 0–255 channels.</summary>
    internal static (int R, int G, int B) Parse(string color)
    {
        if (color == "white") return (255, 255, 255);
        if (color == "black") return (0, 0, 0);
        bool ok = color.Length is 7 or 4 && color[0] == '#';
        for (int k = 1; ok && k < color.Length; k++) ok = char.IsAsciiHexDigit(color[k]);
        int Hex(int at, int length) => int.Parse(color.AsSpan(at, length), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
        if (ok && color.Length == 7) return (Hex(1, 2), Hex(3, 2), Hex(5, 2));
        if (ok) return (Hex(1, 1) * 17, Hex(2, 1) * 17, Hex(3, 1) * 17);   // #abc is #aabbcc
        throw new ArgumentException($"chart colour \"{color}\": want #rgb, #rrggbb, white or black");
    }
}
