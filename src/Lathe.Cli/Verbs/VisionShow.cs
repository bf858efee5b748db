using System.CommandLine;
using System.Globalization;
using Lathe.Vision.Data;
using Lathe.Vision.Images;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe vision show`: the first Fashion-MNIST images of a split (optionally of one class) as one PNG grid.</summary>
internal static class VisionShow
{
    public static Command Create()
    {
        var split = new Option<string>("--split") { Description = "train or test.", DefaultValueFactory = _ => "test" };
        var count = new Option<int>("--count") { Description = "How many images (the split's first ones, in file order).", DefaultValueFactory = _ => 64 };
        var klass = new Option<string?>("--class") { Description = "Only this class: its number 0–9 or its name (e.g. Sneaker)." };
        var columns = new Option<int>("--columns") { Description = "Images per row (0: ⌈√count⌉).", DefaultValueFactory = _ => 0 };
        var scale = new Option<int>("--scale") { Description = "Enlarge each pixel to scale×scale.", DefaultValueFactory = _ => 2 };
        var gap = new Option<int>("--gap") { Description = "Pixels of white between and around the images.", DefaultValueFactory = _ => 2 };
        var data = new Option<string?>("--data") { Description = "Folder with the IDX files (default: $LATHE_FASHION_MNIST, else Debian's /usr/share/datasets/fashion-mnist)." };
        var output = new Option<string>("--out") { Description = "The PNG to write.", Required = true };
        var command = new Command("show", "Write Fashion-MNIST images as one PNG grid.") { split, count, klass, columns, scale, gap, data, output };
        command.SetAction(r => Run(r.GetValue(split)!, r.GetValue(count), r.GetValue(klass), r.GetValue(columns), r.GetValue(scale), r.GetValue(gap), r.GetValue(data), r.GetValue(output)!));
        return command;
    }

    static int Run(string split, int count, string? klass, int columns, int scale, int gap, string? data, string output)
    {
        if (split is not ("train" or "test")) throw new UserInputException($"--split {split}: use train or test");
        if (count < 1) throw new UserInputException($"--count {count}: must be at least 1");
        if (columns < 0) throw new UserInputException($"--columns {columns}: must be 0 (automatic) or more");
        if (scale is < 1 or > 16) throw new UserInputException($"--scale {scale}: must be 1–16");
        if (gap is < 0 or > 64) throw new UserInputException($"--gap {gap}: must be 0–64");
        int label = klass is null ? -1 : ClassIndex(klass);
        var set = split == "train" ? FashionMnist.Train(data) : FashionMnist.Test(data);
        var indices = new List<int>(count);
        for (int i = 0; i < set.Count && indices.Count < count; i++)
            if (label < 0 || set.Labels[i] == label) indices.Add(i);
        if (indices.Count < count)
            throw new UserInputException($"--count {count}: the {split} split has only {indices.Count} images{(label < 0 ? "" : $" of class {label} ({set.ClassNames[label]})")}");
        using var batch = set.Batch(indices.ToArray());   // (N, 1, 28, 28) in [0, 1]
        var grid = SampleGrid.Write(output, batch, 0f, 1f, columns, gap, scale);
        string what = label < 0 ? "" : $" of class {label} ({set.ClassNames[label]})";
        Console.WriteLine($"{output}: {count} {split} images{what}, {grid.Width}×{grid.Height} px");
        return 0;
    }

    static int ClassIndex(string text)
    {
        var names = FashionMnist.ClassNames;
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int k) && k < names.Count) return k;
        for (int i = 0; i < names.Count; i++)
            if (string.Equals(names[i], text, StringComparison.OrdinalIgnoreCase)) return i;
        throw new UserInputException($"--class {text}: not a Fashion-MNIST class (0–{names.Count - 1} or one of: {string.Join(", ", names)})");
    }
}
