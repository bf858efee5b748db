using System.Text.Json;
using Lathe.Vision.Data;
using Xunit;

namespace Lathe.Tests.Vision;

public class ImageAttributesTests
{
    // Written by the numpy twin: /usr/bin/python3 scripts/data/fashion_attributes.py
    static readonly string FixturePath = Path.Combine(AppContext.BaseDirectory, "Vision", "fixtures", "fashion_attributes.json");

    [Fact]
    public void MatchesTheNumpyTwinOnTheFirst300TestImages()
    {
        var test = FashionMnist.Test().Take(300);
        using var doc = JsonDocument.Parse(File.ReadAllText(FixturePath));
        var rows = doc.RootElement.GetProperty("images");
        Assert.Equal(300, rows.GetArrayLength());
        foreach (var row in rows.EnumerateArray())
        {
            int i = row.GetProperty("index").GetInt32();
            Assert.Equal(row.GetProperty("label").GetInt32(), test.Labels[i]);
            var m = ImageAttributes.Measure(test.Image(i), test.Height, test.Width);
            Assert.Equal(row.GetProperty("count").GetInt32(), m.Count);
            Assert.Equal(row.GetProperty("sum").GetInt64(), m.Sum);
            Assert.Equal(row.GetProperty("height").GetInt32(), m.Height);
            Assert.Equal(row.GetProperty("width").GetInt32(), m.Width);
            Assert.Equal(row.GetProperty("gradient_sum").GetInt64(), m.GradientSum);
            Assert.Equal(row.GetProperty("pairs").GetInt32(), m.Pairs);
            var a = ImageAttributes.From(m);
            Assert.Equal(row.GetProperty("brightness").GetString(), a.BrightnessWord);
            Assert.Equal(row.GetProperty("size").GetString(), a.SizeWord);
            Assert.Equal(row.GetProperty("shape").GetString(), a.ShapeWord);
            Assert.Equal(row.GetProperty("texture").GetString(), a.TextureWord);
        }
    }

    [Fact]
    public void HandMadeImagesFallWhereTheRulesSay()
    {
        // A 10-tall, 5-wide block of 200 in a 28×28 frame: 50 pixels (small), bright (light), 10/5 = 2 ≥ 1.40 (tall),
        // no differences inside (plain).
        var img = new byte[28 * 28];
        for (int y = 3; y < 13; y++) for (int x = 7; x < 12; x++) img[y * 28 + x] = 200;
        var m = ImageAttributes.Measure(img, 28, 28);
        Assert.Equal(new ImageAttributes.Measures(50, 10_000, 10, 5, 0, 40), m);
        Assert.Equal(new ImageAttributes(Brightness.Light, ObjectSize.Small, BoxShape.Tall, Texture.Plain), ImageAttributes.From(m));
        // Stripes of 100 and 40 across a 20×26 block: mean 70 (dark), 520 pixels (large), 20/26 < 0.93 (wide),
        // |100 − 40| = 60 between each pair (patterned). Pixels of 32 and less are background and change nothing.
        Array.Clear(img);
        for (int y = 4; y < 24; y++) for (int x = 1; x < 27; x++) img[y * 28 + x] = (byte)(x % 2 == 0 ? 100 : 40);
        img[0] = 32;
        var a = ImageAttributes.Of(img, 28, 28);
        Assert.Equal(new ImageAttributes(Brightness.Dark, ObjectSize.Large, BoxShape.Wide, Texture.Patterned), a);
        // Exactly at a cut point an image goes to the upper side (sum < cut × count is the lower side).
        Assert.Equal(Brightness.MidTone, ImageAttributes.From(new(10, 10L * ImageAttributes.BrightnessMid, 5, 5, 0, 0)).Brightness);
        Assert.Equal(ObjectSize.Large, ImageAttributes.From(new(ImageAttributes.SizeLarge, 0, 5, 5, 0, 0)).Size);
        Assert.Equal(BoxShape.Tall, ImageAttributes.From(new(1, 0, 140, 100, 0, 0)).Shape);
        Assert.Equal(BoxShape.Square, ImageAttributes.From(new(1, 0, 93, 100, 0, 0)).Shape);
        // An empty frame is dark, small, square (by convention: its box is 0 × 0) and plain.
        Assert.Equal(new ImageAttributes(Brightness.Dark, ObjectSize.Small, BoxShape.Square, Texture.Plain), ImageAttributes.Of(new byte[16], 4, 4));
    }

    [Fact]
    public void CutPointsSplitTheTrainingSetIntoTerciles()
    {
        var all = ImageAttributes.OfAll(FashionMnist.Train());
        // Terciles rounded to whole units leave each third within a few hundred images of 20,000; texture is a median.
        foreach (var k in new[] { 0, 1, 2 })
        {
            Assert.InRange(all.Count(a => (int)a.Brightness == k), 19_000, 21_000);
            Assert.InRange(all.Count(a => (int)a.Size == k), 19_000, 21_000);
            Assert.InRange(all.Count(a => (int)a.Shape == k), 18_500, 21_000);
        }
        Assert.InRange(all.Count(a => a.Texture == Texture.Plain), 28_000, 32_000);
    }
}
