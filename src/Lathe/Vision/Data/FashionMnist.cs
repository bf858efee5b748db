namespace Lathe.Vision.Data;

/// <summary>Fashion-MNIST (Zalando Research, MIT licence): 60,000 training and 10,000 test greyscale 28×28 images of
/// ten clothing classes, as Debian's <c>dataset-fashion-mnist</c> package installs them (gzip-compressed IDX files in
/// /usr/share/datasets/fashion-mnist). Nothing is downloaded.</summary>
public static class FashionMnist
{
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";
    public const int Side = 28;

    /// <summary>The class names in label order (the dataset's README).</summary>
    public static readonly IReadOnlyList<string> ClassNames =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>The folder to read: <paramref name="dir"/> when given, else $LATHE_FASHION_MNIST, else Debian's.</summary>
    public static string Directory(string? dir = null) =>
        dir ?? Environment.GetEnvironmentVariable("LATHE_FASHION_MNIST") ?? DefaultDirectory;

    /// <summary>True when the package (or the given folder) is there.</summary>
    public static bool IsInstalled(string? dir = null) =>
        File.Exists(FilePath(Directory(dir), "train-images-idx3-ubyte")) && File.Exists(FilePath(Directory(dir), "t10k-images-idx3-ubyte"));

    /// <summary>The training split (60,000 images).</summary>
    public static ImageSet Train(string? dir = null) => Load(Directory(dir), "train");

    /// <summary>The test split (10,000 images).</summary>
    public static ImageSet Test(string? dir = null) => Load(Directory(dir), "t10k");

    /// <summary>Reads <paramref name="prefix"/>-images-idx3-ubyte and -labels-idx1-ubyte (plain or .gz) from
    /// <paramref name="dir"/>, checking that they agree and that every label names a class.</summary>
    public static ImageSet Load(string dir, string prefix)
    {
        string imagesPath = FilePath(dir, prefix + "-images-idx3-ubyte"), labelsPath = FilePath(dir, prefix + "-labels-idx1-ubyte");
        if (!File.Exists(imagesPath))
            throw new FileNotFoundException($"{imagesPath}: not found (install Debian's dataset-fashion-mnist, or pass the folder that holds the IDX files)");
        var images = IdxFile.Read(imagesPath);
        var labels = IdxFile.Read(labelsPath);
        if (images.Dimensions.Length != 3) throw new InvalidDataException($"{imagesPath}: images need 3 dimensions (count, rows, columns), got {images.Dimensions.Length}");
        if (labels.Dimensions.Length != 1) throw new InvalidDataException($"{labelsPath}: labels need 1 dimension, got {labels.Dimensions.Length}");
        if (labels.Dimensions[0] != images.Dimensions[0])
            throw new InvalidDataException($"{labelsPath}: {labels.Dimensions[0]} labels for {images.Dimensions[0]} images in {imagesPath}");
        var ids = new int[labels.Data.Length];
        for (int i = 0; i < ids.Length; i++)
        {
            ids[i] = labels.Data[i];
            if (ids[i] >= ClassNames.Count) throw new InvalidDataException($"{labelsPath}: label {ids[i]} at record {i} is not one of the {ClassNames.Count} classes");
        }
        return new ImageSet(images.Data, ids, 1, images.Dimensions[1], images.Dimensions[2], ClassNames);
    }

    // Debian ships the files gzip-compressed; a folder of plain IDX files works too.
    static string FilePath(string dir, string name)
    {
        string plain = Path.Combine(dir, name);
        return File.Exists(plain) ? plain : plain + ".gz";
    }
}
