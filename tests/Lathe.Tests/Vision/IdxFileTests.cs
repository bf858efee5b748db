using System.IO.Compression;
using Lathe.Vision.Data;
using Xunit;

namespace Lathe.Tests.Vision;

public class IdxFileTests
{
    static string Temp(string name) => Path.Combine(Directory.CreateTempSubdirectory("lathe-idx").FullName, name);

    [Fact]
    public void RoundTripsPlainAndGzip()
    {
        byte[] data = Enumerable.Range(0, 2 * 3 * 4).Select(i => (byte)(i * 7)).ToArray();
        string plain = Temp("x-idx3-ubyte");
        IdxFile.Write(plain, [2, 3, 4], data);
        var a = IdxFile.Read(plain);
        Assert.Equal([2, 3, 4], a.Dimensions);
        Assert.Equal(data, a.Data);
        string gz = plain + ".gz";
        using (var f = File.Create(gz)) using (var z = new GZipStream(f, CompressionLevel.Optimal)) z.Write(File.ReadAllBytes(plain));
        Assert.Equal(data, IdxFile.Read(gz).Data);
        // The header's bytes, as the format gives them: 00 00 08 03, then big-endian dimensions.
        Assert.Equal(new byte[] { 0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4 }, File.ReadAllBytes(plain)[..16]);
    }

    [Fact]
    public void BadFilesAreNamedErrors()
    {
        string path = Temp("bad-idx");
        File.WriteAllBytes(path, [0x12, 0x34, 0x08, 0x01, 0, 0, 0, 1, 5]);
        Assert.Contains("not an IDX file", Assert.Throws<InvalidDataException>(() => IdxFile.Read(path)).Message);
        File.WriteAllBytes(path, [0, 0, 0x0D, 0x01, 0, 0, 0, 1, 0, 0, 0, 0]);
        Assert.Contains("type 0x0d", Assert.Throws<InvalidDataException>(() => IdxFile.Read(path)).Message);
        File.WriteAllBytes(path, [0, 0, 0x08, 0x02, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3]);
        var e = Assert.Throws<InvalidDataException>(() => IdxFile.Read(path));
        Assert.Contains("truncated", e.Message);
        Assert.Contains(path, e.Message);
        File.WriteAllBytes(path, [0x1f, 0x8b, 1, 2, 3]);
        Assert.Contains("gzip", Assert.Throws<InvalidDataException>(() => IdxFile.Read(path)).Message);
    }

    [Fact]
    public void LabelsMustMatchImages()
    {
        string dir = Directory.CreateTempSubdirectory("lathe-fm").FullName;
        IdxFile.Write(Path.Combine(dir, "t10k-images-idx3-ubyte"), [3, 2, 2], new byte[12]);
        IdxFile.Write(Path.Combine(dir, "t10k-labels-idx1-ubyte"), [2], [1, 2]);
        Assert.Contains("2 labels for 3 images", Assert.Throws<InvalidDataException>(() => FashionMnist.Load(dir, "t10k")).Message);
        IdxFile.Write(Path.Combine(dir, "t10k-labels-idx1-ubyte"), [3], [1, 2, 10]);
        Assert.Contains("label 10 at record 2", Assert.Throws<InvalidDataException>(() => FashionMnist.Load(dir, "t10k")).Message);
    }

    [Fact]
    public void ReadsDebiansFashionMnist()
    {
        Assert.True(FashionMnist.IsInstalled(), "Debian's dataset-fashion-mnist is not installed (scripts/test installs it)");
        var test = FashionMnist.Test();
        Assert.Equal(10000, test.Count);
        Assert.Equal((1, 28, 28), (test.Channels, test.Height, test.Width));
        // Balanced classes: 1,000 test images of each (the dataset's README).
        Assert.All(Enumerable.Range(0, 10), c => Assert.Equal(1000, test.Labels.Count(l => l == c)));
        var train = FashionMnist.Train();
        Assert.Equal(60000, train.Count);
        Assert.All(Enumerable.Range(0, 10), c => Assert.Equal(6000, train.Labels.Count(l => l == c)));
    }
}
