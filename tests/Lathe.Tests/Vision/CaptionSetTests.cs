using System.Text.Json;
using Lathe.Tests.Cli;
using Lathe.Vision.Data;
using Xunit;

namespace Lathe.Tests.Vision;

public class CaptionSetTests
{
    static readonly ImageAttributes DarkSmallWidePlain = new(Brightness.Dark, ObjectSize.Small, BoxShape.Wide, Texture.Plain);

    [Fact]
    public void TemplatesRenderWithArticlesThatFit()
    {
        Assert.Equal("a photo of a dark small sandal", CaptionSet.Render(0, 5, DarkSmallWidePlain));
        Assert.Equal("a photo of dark small trousers", CaptionSet.Render(0, 1, DarkSmallWidePlain));
        Assert.Equal("an ankle boot, dark, small and plain", CaptionSet.Render(6, 9, DarkSmallWidePlain));
        Assert.Equal("trousers, dark, small and plain", CaptionSet.Render(6, 1, DarkSmallWidePlain));
        var light = DarkSmallWidePlain with { Brightness = Brightness.Light, Size = ObjectSize.Large, Shape = BoxShape.Tall, Texture = Texture.Patterned };
        Assert.Equal("a patterned light coat, large and tall", CaptionSet.Render(3, 4, light));
        Assert.Equal("a mid-tone patterned t-shirt", CaptionSet.Render(4, 0, light with { Brightness = Brightness.MidTone }));
        Assert.Equal("an image of a tall patterned bag", CaptionSet.Render(7, 8, light));
        Assert.Equal("a photo of an ankle boot", CaptionSet.Prompt("a photo of {a} {c}", 9));
        Assert.Equal("a photo of trousers", CaptionSet.Prompt("a photo of {a} {c}", 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => CaptionSet.Render(CaptionSet.Templates.Count, 0, light));
    }

    [Fact]
    public void ParseReadsBackEveryTemplate()
    {
        var values = from b in Enum.GetValues<Brightness>() from s in Enum.GetValues<ObjectSize>()
                     from h in Enum.GetValues<BoxShape>() from t in Enum.GetValues<Texture>() select new ImageAttributes(b, s, h, t);
        foreach (var a in values)
            for (int template = 0; template < CaptionSet.Templates.Count; template++)
                for (int label = 0; label < CaptionSet.ClassWords.Count; label++)
                {
                    string caption = CaptionSet.Render(template, label, a);
                    var p = CaptionSet.Parse(caption);
                    Assert.True(p.Label == label, $"\"{caption}\" parsed as class {p.Label}");
                    string t = CaptionSet.Templates[template];
                    Assert.Equal(t.Contains("{b}") ? (int)a.Brightness : null, p.Brightness);
                    Assert.Equal(t.Contains("{s}") ? (int)a.Size : null, p.Size);
                    Assert.Equal(t.Contains("{h}") ? (int)a.Shape : null, p.Shape);
                    Assert.Equal(t.Contains("{t}") ? (int)a.Texture : null, p.Texture);
                }
        // The full template names every attribute.
        Assert.All(new[] { "{b}", "{s}", "{h}", "{t}" }, k => Assert.Contains(k, CaptionSet.Templates[CaptionSet.FullTemplate]));
        // Free text: two classes or two values of one attribute say nothing.
        var q = CaptionSet.Parse("A shirt or a t-shirt, dark and light.");
        Assert.Equal(-1, q.Label);
        Assert.Null(q.Brightness);
    }

    [Fact]
    public void SplitsUseTheirTemplatesAndAreDeterministic()
    {
        var images = FashionMnist.Test().Take(400);
        var train = CaptionSet.Build(images, CaptionSplit.Train);
        var test = CaptionSet.Build(images, CaptionSplit.Test);
        Assert.All(train.Entries, e => Assert.InRange(e.Template, 0, CaptionSet.TrainingTemplates - 1));
        // Every template is drawn, and the held-out ones take about 2/8 of the test captions.
        Assert.Equal(CaptionSet.Templates.Count, test.Entries.Select(e => e.Template).Distinct().Count());
        Assert.InRange(test.Entries.Count(e => e.Template >= CaptionSet.TrainingTemplates), 60, 140);
        var again = CaptionSet.Build(images, CaptionSplit.Test);
        Assert.Equal(test.Entries.Select(e => e.Caption), again.Entries.Select(e => e.Caption));
        Assert.NotEqual(test.Entries.Select(e => e.Caption), CaptionSet.Build(images, CaptionSplit.Test, seed: 5).Entries.Select(e => e.Caption));
        foreach (var e in test.Entries)
        {
            Assert.Equal(images.Labels[e.Index], e.Label);
            Assert.Equal(ImageAttributes.Of(images, e.Index), e.Attributes);
            Assert.Equal(CaptionSet.Render(e.Template, e.Label, e.Attributes), e.Caption);
        }
    }

    [Fact]
    public void TokenizerLearnsTheCaptionWordsAndRoundTrips()
    {
        var captions = CaptionSet.Build(FashionMnist.Test().Take(3000), CaptionSplit.Train).Entries.Select(e => e.Caption).ToList();
        var tokenizer = CaptionTokenizer.Train(captions);
        // Bytes, merges and the special: far below the cap, since the captions have few words.
        Assert.InRange(tokenizer.VocabSize, 257, 400);
        var ids = new int[24];
        string caption = "a photo of a dark small sandal";
        int n = CaptionTokenizer.Encode(tokenizer, caption, ids);
        Assert.Equal(tokenizer.EndOfTextId, ids[n - 1]);
        Assert.True(n <= 8, $"\"{caption}\" took {n} tokens"); // each word one token
        Assert.All(ids[n..], id => Assert.Equal(tokenizer.EndOfTextId, id));
        Assert.Equal(caption, tokenizer.Decode(ids[..(n - 1)]));
        // Words the captions never use still encode (byte level).
        int m = CaptionTokenizer.Encode(tokenizer, "a zebra", ids);
        Assert.Equal("a zebra", tokenizer.Decode(ids[..(m - 1)]));
        Assert.Contains("text context holds 4", Assert.Throws<ArgumentException>(() => CaptionTokenizer.Encode(tokenizer, caption, new int[4])).Message);
        // Saved and loaded: same ids.
        string dir = Directory.CreateTempSubdirectory("lathe-captok").FullName;
        CaptionTokenizer.Save(tokenizer, dir);
        var loaded = CaptionTokenizer.Load(dir);
        foreach (var c in captions.Take(200)) Assert.Equal(tokenizer.Encode(c), loaded.Encode(c));
        // The longest wording: "a mid-tone patterned t-shirt, medium and square" — "mid-tone" and "t-shirt" are three
        // pre-tokens each, so a caption stays under 16 tokens.
        int longest = CaptionTokenizer.MaxLength(tokenizer, captions);
        Assert.InRange(longest, 8, 16);
        Assert.Throws<FileNotFoundException>(() => CaptionTokenizer.Load(Path.Combine(dir, "missing")));
    }

    [Fact]
    public void CliWritesCaptionsAndRefusesABadSplit()
    {
        using var lathe = new LatheProcess();
        var (code, _, err) = lathe.Run("vision", "captions", "--split", "test", "--out", "test.jsonl");
        Assert.True(code == 0, err);
        var lines = File.ReadAllLines(lathe.PathOf("test.jsonl"));
        Assert.Equal(10000, lines.Length);
        var expected = CaptionSet.Build(FashionMnist.Test().Take(5), CaptionSplit.Test).Entries;
        for (int i = 0; i < 5; i++)
        {
            using var doc = JsonDocument.Parse(lines[i]);
            var o = doc.RootElement;
            Assert.Equal(i, o.GetProperty("index").GetInt32());
            Assert.Equal(expected[i].Label, o.GetProperty("label").GetInt32());
            Assert.Equal(expected[i].Caption, o.GetProperty("caption").GetString());
            Assert.Equal(expected[i].Attributes.SizeWord, o.GetProperty("attributes").GetProperty("size").GetString());
        }
        var bad = lathe.Run("vision", "captions", "--split", "valid", "--out", "x.jsonl");
        Assert.Equal(2, bad.Code);
        Assert.Contains("--split 'valid'", bad.Stderr);
        var missing = lathe.Run("vision", "captions", "--split", "train", "--data", "nowhere", "--out", "x.jsonl");
        Assert.Equal(2, missing.Code);
        Assert.Contains("nowhere", missing.Stderr);
    }
}
