using Lathe.Tensors;
using Lathe.Tests.Cli;
using Lathe.Vision.Data;
using Lathe.Vision.Images;

namespace Lathe.Tests.Vision;

/// <summary>Sample grids: the layout worked out by hand for tiny cases, exact inversion of ImageSet's scaling, and
/// `lathe vision show` against the dataset's own bytes, with its bad-input errors.</summary>
public class SampleGridTests
{
    [Fact]
    public void Lays_out_cells_gaps_and_values_as_worked_by_hand()
    {
        // Two 1×2 grey images side by side, 1-pixel white gap around and between: a 7×3 grid.
        using var images = Tensor.FromArray([0f, 1f, 0.5f, float.NaN], 2, 1, 1, 2);
        var grid = SampleGrid.Tile(images, columns: 2, gap: 1);
        Assert.Equal((7, 3, 1), (grid.Width, grid.Height, grid.Channels));
        Assert.Equal(new byte[]
        {
            255, 255, 255, 255, 255, 255, 255,
            255,   0, 255, 255, 128,   0, 255,    // 0.5·255 = 127.5 rounds to 128; NaN becomes 0
            255, 255, 255, 255, 255, 255, 255,
        }, grid.Pixels);

        // Range [−1, 1], values outside clamp; 3 RGB images of 1×1 in 2 columns at scale 2, no gap: 4×4, last cell blank.
        using var rgb = Tensor.FromArray([-1f, 0f, 1f, 2f, -3f, 0.5f, 1f, 1f, -1f], 3, 3, 1, 1);
        var g = SampleGrid.Tile(rgb, low: -1f, high: 1f, columns: 2, gap: 0, scale: 2, background: 9);
        Assert.Equal((4, 4, 3), (g.Width, g.Height, g.Channels));
        byte[] a = [0, 128, 255], b = [255, 0, 191], c = [255, 255, 0], blank = [9, 9, 9];
        byte[][] expected = [a, a, b, b, a, a, b, b, c, c, blank, blank, c, c, blank, blank];
        Assert.Equal(expected.SelectMany(p => p).ToArray(), g.Pixels);
    }

    [Fact]
    public void Inverts_ImageSet_scaling_exactly()
    {
        var random = new Random(8);
        var pixels = new byte[6 * 3 * 4 * 5];
        random.NextBytes(pixels);
        var set = new ImageSet(pixels, new int[6], 3, 4, 5, ["x"]);
        foreach (bool symmetric in new[] { false, true })
        {
            using var batch = set.Batch([0, 1, 2, 3, 4, 5], symmetric);
            // One column, no gap: the grid's rows are the images one under another, (H, W, C) interleaved.
            var grid = SampleGrid.Tile(batch, symmetric ? -1f : 0f, 1f, columns: 1, gap: 0);
            for (int n = 0; n < 6; n++)
                for (int ch = 0; ch < 3; ch++)
                    for (int y = 0; y < 4; y++)
                        for (int x = 0; x < 5; x++)
                            Assert.Equal(pixels[((n * 3 + ch) * 4 + y) * 5 + x], grid.Pixels[((n * 4 + y) * 5 + x) * 3 + ch]);
        }
    }

    [Fact]
    public void Show_writes_the_dataset_images_and_refuses_bad_options()
    {
        using var cli = new LatheProcess();
        var (code, stdout, stderr) = cli.Run("vision", "show", "--split", "test", "--count", "12", "--class", "sneaker",
            "--columns", "12", "--scale", "1", "--gap", "0", "--out", "g.png");
        Assert.True(code == 0, stderr);
        Assert.Contains("12 test images of class 7 (Sneaker), 336×28 px", stdout);
        var grid = Png.Read(cli.PathOf("g.png"));
        var test = FashionMnist.Test();
        var sneakers = Enumerable.Range(0, test.Count).Where(i => test.Labels[i] == 7).Take(12).ToArray();
        for (int k = 0; k < 12; k++)
        {
            var image = test.Image(sneakers[k]);
            for (int y = 0; y < 28; y++)
                for (int x = 0; x < 28; x++)
                    Assert.Equal(image[y * 28 + x], grid.Pixels[y * 336 + k * 28 + x]);
        }

        foreach (var (args, message) in new (string[], string)[]
        {
            (["--class", "12"], "--class 12: not a Fashion-MNIST class"),
            (["--split", "val"], "--split val: use train or test"),
            (["--count", "1001", "--class", "3"], "--count 1001: the test split has only 1000 images of class 3 (Dress)"),
            (["--data", "no-such-folder"], "not found"),
        })
        {
            var r = cli.Run(["vision", "show", "--out", "x.png", .. args]);
            Assert.Equal(2, r.Code);
            Assert.Contains(message, r.Stderr);
            Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.False(File.Exists(cli.PathOf("x.png")));
        }
    }
}
