using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Lathe.Evaluation.Scaling;
using Lathe.IO;
using Lathe.Tests.Browser;
using Lathe.Tests.Data;

namespace Lathe.Tests.Evaluation.Scaling;

/// <summary>The PNG output of the charts, read back by decoders that share no code with the writer: the browser tests'
/// PngPixels and png_oracle.py (Python's zlib and struct only), which also rechecks every CRC-32 and the Adler-32.
/// </summary>
public class ChartPngTests
{
    const int Scale = 2;

    static ScalingAnalysis Analysis() => ScalingPlotsTests.Analysis();

    static (int Width, int Height, int Channels, byte[] Pixels) Decode(byte[] png, TempDir dir, string name = "chart.png")
    {
        string path = dir.File(name);
        File.WriteAllBytes(path, png);
        return PngPixels.Read(path);
    }

    static int Rgb(byte[] px, int width, int x, int y) => px[(y * width + x) * 3] << 16 | px[(y * width + x) * 3 + 1] << 8 | px[(y * width + x) * 3 + 2];

    [Fact]
    public void Crc32_gives_the_standard_check_value()
    {
        // The CRC-32 catalogue's check value for "123456789", and PNG's IEND chunk CRC (fixed: it has no data).
        Assert.Equal(0xCBF43926u, Crc32.Compute(Encoding.ASCII.GetBytes("123456789")));
        Assert.Equal(0xAE426082u, Crc32.Compute("IEND"u8));
        Assert.Equal(0u, Crc32.Compute([]));
        // Appending in pieces is the same as at once.
        Assert.Equal(Crc32.Compute("hello world"u8), Crc32.Append(Crc32.Compute("hello "u8), "world"u8));
    }

    [Fact]
    public void A_plot_decodes_to_its_size_with_many_colours_and_its_frame()
    {
        using var dir = new TempDir();
        var (w, h, ch, px) = Decode(ScalingPlots.LossVsComputePng(Analysis()), dir);
        Assert.Equal((760 * Scale, 500 * Scale, 3), (w, h, ch));
        // Anti-aliased edges blend each colour with what is under it: far more colours than the handful used.
        Assert.True(PngPixels.DistinctColours(dir.File("chart.png")) > 200, $"{PngPixels.DistinctColours(dir.File("chart.png"))} colours");
        Assert.True(PngPixels.NonBackground(dir.File("chart.png"), 0xFFFFFF) > 20_000);
        // The frame: a 1-unit #333 stroke on the plot area's edges, x = 78 and y = 438 (chart units), 2 pixels wide.
        for (int y = 44 * Scale + 4; y < 438 * Scale - 4; y++)
        {
            Assert.Equal(0x333333, Rgb(px, w, 78 * Scale - 1, y));
            Assert.Equal(0x333333, Rgb(px, w, 78 * Scale, y));
        }
        for (int x = 78 * Scale + 4; x < 736 * Scale - 4; x++) Assert.Equal(0x333333, Rgb(px, w, x, 438 * Scale));
        // Outside the frame on the left, between the tick labels and the y label, is white paper.
        Assert.Equal(0xFFFFFF, Rgb(px, w, 30 * Scale, 44 * Scale + 2));
    }

    [Fact]
    public void A_point_is_painted_in_its_series_colour_at_its_mapped_pixel()
    {
        // Plot area x ∈ [78, 736], y ∈ [438, 44] (chart units); x log 1–100, y linear 0–10. Points off every grid line.
        var chart = new SvgChart("t", "x", "y", logX: true, logY: false);
        chart.SetRange(1, 100, 0, 10);
        chart.AddPoints("a", [(20, 3)], "#D55E00");
        chart.AddPoints("b", [(3, 7)], "#0072B2", size: 5);
        using var dir = new TempDir();
        var (w, _, _, px) = Decode(chart.RenderPng(), dir);
        foreach (var (x, y, color) in new[] { (20.0, 3.0, 0xD55E00), (3.0, 7.0, 0x0072B2) })
        {
            double cx = 78 + Math.Log10(x) / 2 * 658, cy = 438 - y / 10 * 394;
            int px0 = (int)Math.Floor(cx * Scale), py0 = (int)Math.Floor(cy * Scale);
            // Markers are filled at opacity 0.85 over white paper: channel = 255 + 0.85 (c − 255).
            int expected = 0;
            for (int shift = 16; shift >= 0; shift -= 8)
                expected |= (int)Math.Round(255 + 0.85 * ((color >> shift & 0xFF) - 255)) << shift;
            foreach (var (dx, dy) in new[] { (0, 0), (-2, 0), (2, 0), (0, -2), (0, 2) })
            {
                int got = Rgb(px, w, px0 + dx, py0 + dy);
                for (int shift = 16; shift >= 0; shift -= 8)
                    Assert.InRange((got >> shift & 0xFF) - (expected >> shift & 0xFF), -1, 1);
            }
            // 8 units away (radius 4 or 5) the paper shows again.
            Assert.Equal(0xFFFFFF, Rgb(px, w, px0 + 8 * Scale, py0));
            Assert.Equal(0xFFFFFF, Rgb(px, w, px0, py0 + 8 * Scale));
        }
    }

    [Fact]
    public void A_line_is_anti_aliased_and_carries_exactly_its_width_of_ink()
    {
        // A black 2-unit line at x = 0.3 on a 0–1 axis: chart x 78 + 0.3·658 = 275.4, device 550.8, 4 pixels wide.
        // Coverage falls linearly over the pixel at each edge, so one row's ink, Σ (255 − v)/255, is the width, 4,
        // spread over pixels 548 (0.2), 549–551 (1) and 552 (0.8).
        var chart = new SvgChart("t", "x", "y", logX: false, logY: false);
        chart.SetRange(0, 1, 0, 1);
        chart.AddLine(null, [(0.3, 0.1), (0.3, 0.9)], "#000000");
        using var dir = new TempDir();
        var (w, _, _, px) = Decode(chart.RenderPng(), dir);
        int row = (int)((438 - 0.5 * 394) * Scale);   // y = 0.5, between grid lines
        double ink = 0;
        var partial = new List<int>();
        for (int x = 540; x < 562; x++)
        {
            int v = Rgb(px, w, x, row) & 0xFF;
            ink += (255 - v) / 255.0;
            if (v is > 0 and < 255) partial.Add(x);
        }
        Assert.Equal(4.0, ink, 0.01);
        Assert.Equal([548, 552], partial);
        Assert.Equal(204, Rgb(px, w, 548, row) & 0xFF);   // 255 − 0.2·255
        Assert.Equal(0, Rgb(px, w, 550, row) & 0xFF);
        Assert.Equal(51, Rgb(px, w, 552, row) & 0xFF);     // 255 − 0.8·255
    }

    // The bounding box of every non-white pixel left of the tick labels (x < 40 units): only the y label is there.
    static (int X0, int X1, int Y0, int Y1) InkLeftOfTicks(byte[] px, int w, int h)
    {
        int x0 = int.MaxValue, x1 = -1, y0 = int.MaxValue, y1 = -1;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < 40 * Scale; x++)
                if (Rgb(px, w, x, y) != 0xFFFFFF) { x0 = Math.Min(x0, x); x1 = Math.Max(x1, x); y0 = Math.Min(y0, y); y1 = Math.Max(y1, y); }
        return (x0, x1, y0, y1);
    }

    [Fact]
    public void The_y_label_is_drawn_rotated_reading_upwards()
    {
        var chart = new SvgChart("t", "x", "validation loss (nats/token)", logX: false, logY: false);
        chart.SetRange(0, 1, 0, 1);
        using var dir = new TempDir();
        var (w, h, _, px) = Decode(chart.RenderPng(), dir);
        // Ink left of the tick labels (x < 40 units) is only the y label: a tall, narrow column centred on y = 241.
        var (x0, x1, y0, y1) = InkLeftOfTicks(px, w, h);
        int textLength = BitmapFont.Width("validation loss (nats/token)") * Scale;   // 13-unit text: 2 pixels a dot
        Assert.InRange(y1 - y0 + 1, textLength - 4 * Scale, textLength);
        Assert.InRange(x1 - x0 + 1, 6 * Scale, (BitmapFont.Ascent + BitmapFont.Descent) * Scale);
        Assert.InRange((y0 + y1) / 2.0, 241 * Scale - 4 * Scale, 241 * Scale + 4 * Scale);
    }

    [Fact]
    public void A_rotated_letter_turns_anticlockwise()
    {
        // "L" turned 90° anticlockwise (SVG's rotate(-90)) is "┘": its upright becomes the bottom edge and its foot
        // the right edge. Turned the other way it would be "┌".
        var chart = new SvgChart("t", "x", "L", logX: false, logY: false);
        chart.SetRange(0, 1, 0, 1);
        using var dir = new TempDir();
        var (w, h, _, px) = Decode(chart.RenderPng(), dir);
        var (x0, x1, y0, y1) = InkLeftOfTicks(px, w, h);
        int dot = Scale;   // 13-unit text at scale 2: 2 pixels a dot
        Assert.Equal(BitmapFont.Ascent * dot, x1 - x0 + 1);      // the upright's 7 dots, now across
        Assert.Equal(BitmapFont.GlyphWidth * dot, y1 - y0 + 1);  // the foot's 5 dots, now up
        for (int x = x0; x <= x1; x++) Assert.Equal(0x000000, Rgb(px, w, x, y1));   // bottom edge inked
        for (int y = y0; y <= y1; y++) Assert.Equal(0x000000, Rgb(px, w, x1, y));   // right edge inked
        Assert.Equal(0xFFFFFF, Rgb(px, w, x0, y0));                                  // top-left corner is paper
    }

    [Fact]
    public void The_same_chart_gives_the_same_bytes_and_another_chart_others()
    {
        var analysis = Analysis();
        byte[] first = ScalingPlots.PredictedVsMeasuredPng(analysis);
        Assert.Equal(first, ScalingPlots.PredictedVsMeasuredPng(analysis));
        Assert.Equal(first, ScalingPlots.PredictedVsMeasuredPng(Analysis()));
        Assert.NotEqual(first, ScalingPlots.LossVsComputePng(analysis));
    }

    [Fact]
    public void WriteAll_writes_each_plot_as_svg_and_png_and_an_independent_decoder_agrees()
    {
        using var dir = new TempDir();
        var written = ScalingPlots.WriteAll(dir.Path, Analysis());
        Assert.Equal<string>(["loss_vs_compute.svg", "loss_vs_compute.png", "isoflop.svg", "isoflop.png", "predicted_vs_measured.svg", "predicted_vs_measured.png"],
            written.Select(p => Path.GetFileName(p)!).ToArray());
        var pngs = written.Where(p => p.EndsWith(".png", StringComparison.Ordinal)).ToArray();
        var oracle = JsonDocument.Parse(RunPython(Path.Combine(Peers.RepoRoot, "tests", "Lathe.Tests", "Evaluation", "Scaling", "png_oracle.py"), pngs)).RootElement;
        Assert.Equal(pngs.Length, oracle.GetArrayLength());
        for (int i = 0; i < pngs.Length; i++)
        {
            var o = oracle[i];
            var (w, h, _, px) = PngPixels.Read(pngs[i]);
            Assert.Equal(w, o.GetProperty("width").GetInt32());
            Assert.Equal(h, o.GetProperty("height").GetInt32());
            Assert.Equal(8, o.GetProperty("depth").GetInt32());
            Assert.Equal(2, o.GetProperty("colour").GetInt32());
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(px)), o.GetProperty("sha256").GetString());
            Assert.Equal(PngPixels.DistinctColours(pngs[i]), o.GetProperty("distinct").GetInt32());
            // The filter choice is per scanline: a chart uses more than one.
            Assert.True(o.GetProperty("filters").GetArrayLength() > 1);
        }
    }

    [Fact]
    public void The_font_has_a_distinct_glyph_for_every_printable_ascii_character()
    {
        var seen = new Dictionary<string, char>();
        for (char c = ' '; c <= '~'; c++)
        {
            Assert.True(BitmapFont.Has(c), $"no glyph for '{c}'");
            var rows = BitmapFont.Glyph(c).ToArray();
            Assert.Equal(BitmapFont.Ascent + BitmapFont.Descent, rows.Length);
            Assert.Equal(c == ' ', rows.All(r => r == 0));
            string key = Convert.ToHexString(rows);
            Assert.False(seen.TryGetValue(key, out char twin), $"'{c}' looks the same as '{twin}'");
            seen[key] = c;
        }
        // The symbols the scaling plots' labels use.
        Assert.True(BitmapFont.Has('±') && BitmapFont.Has('∝'));
    }

    [Fact]
    public void A_colour_the_rasteriser_cannot_read_is_named()
    {
        var chart = new SvgChart("t", "x", "y", logX: false, logY: false);
        chart.AddPoints("a", [(1, 1)], "rebeccapurple");
        var e = Assert.Throws<ArgumentException>(() => chart.RenderPng());
        Assert.Equal("chart colour \"rebeccapurple\": want #rgb, #rrggbb, white or black", e.Message);
        Assert.Throws<ArgumentException>(() => new SvgChart("t", "x", "y", false, false).RenderPng(scale: 0));
        Assert.Equal((0x11, 0xAA, 0xFF), RasterCanvas.Parse("#1aF"));
        Assert.Equal((0x0C, 0x79, 0xA7), RasterCanvas.Parse("#0c79a7"));
        Assert.Throws<ArgumentException>(() => RasterCanvas.Parse("#12345g"));
    }

    static string RunPython(string script, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(120_000), "png_oracle.py did not finish in 120 s");
        Assert.True(p.ExitCode == 0, $"png_oracle.py exited {p.ExitCode}: {err.Result}");
        return output;
    }
}
