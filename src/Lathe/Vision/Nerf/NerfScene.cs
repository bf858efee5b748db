using System.Text.Json;
using Lathe.Vision.Images;

namespace Lathe.Vision.Nerf;

/// <summary>One view of a scene: its camera and its pixels, (H, W, 3) row-major floats in [0, 1].</summary>
public sealed record NerfView(string File, NerfCamera Camera, float[] Pixels);

/// <summary>A NeRF scene folder in the Blender convention: transforms_{split}.json holding camera_angle_x and
/// frames [{file_path, transform_matrix}] (file_path relative to the folder, ".png" added when it has no extension),
/// and the PNG views it names (RGB, or RGBA composited onto white as the Blender scenes are). Every view has the
/// same size. A bad file is an error naming the file and the field.</summary>
public sealed class NerfScene
{
    public string Folder { get; }
    public string Split { get; }
    public IReadOnlyList<NerfView> Views { get; }
    public int Width => Views[0].Camera.Width;
    public int Height => Views[0].Camera.Height;

    NerfScene(string folder, string split, IReadOnlyList<NerfView> views) { Folder = folder; Split = split; Views = views; }

    /// <summary>The transforms file of a split ("train", "test", "val").</summary>
    public static string TransformsPath(string folder, string split) => Path.Combine(folder, $"transforms_{split}.json");

    /// <summary>Reads transforms_{split}.json in <paramref name="folder"/> and every image it names.</summary>
    public static NerfScene Load(string folder, string split)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"--scene {folder}: no such folder");
        string path = TransformsPath(folder, split);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path} not found (a NeRF scene folder holds transforms_{split}.json)");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message})"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: not a JSON object");
            if (!root.TryGetProperty("camera_angle_x", out var angleEl) || angleEl.ValueKind != JsonValueKind.Number
                || !(angleEl.GetDouble() is > 0 and < Math.PI))
                throw new InvalidDataException($"{path}: field 'camera_angle_x' is missing or not an angle in (0, π) radians");
            double angle = angleEl.GetDouble();
            if (!root.TryGetProperty("frames", out var frames) || frames.ValueKind != JsonValueKind.Array || frames.GetArrayLength() == 0)
                throw new InvalidDataException($"{path}: field 'frames' is missing or not a non-empty array");
            var views = new List<NerfView>();
            int k = 0, width = 0, height = 0;
            foreach (var frame in frames.EnumerateArray())
            {
                string at = $"{path}: frames[{k}]";
                if (frame.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{at} is not an object");
                if (!frame.TryGetProperty("file_path", out var fileEl) || fileEl.ValueKind != JsonValueKind.String || fileEl.GetString()!.Length == 0)
                    throw new InvalidDataException($"{at}: field 'file_path' is missing or not a string");
                var matrix = ReadMatrix(frame, at);
                string rel = fileEl.GetString()!;
                string file = Path.GetFullPath(Path.Combine(folder, Path.HasExtension(rel) ? rel : rel + ".png"));
                if (!File.Exists(file)) throw new FileNotFoundException($"{at}: file_path '{rel}': {file} not found");
                var (w, h, pixels) = ReadRgb(file);
                if (k == 0) { width = w; height = h; }
                else if (w != width || h != height)
                    throw new InvalidDataException($"{at}: {file} is {w}×{h}, the scene's views are {width}×{height}");
                views.Add(new NerfView(file, new NerfCamera(matrix, w, h, angle), pixels));
                k++;
            }
            return new NerfScene(folder, split, views);
        }
    }

    static double[] ReadMatrix(JsonElement frame, string at)
    {
        const string bad = "field 'transform_matrix' is missing or not a 4×4 array of numbers";
        if (!frame.TryGetProperty("transform_matrix", out var m) || m.ValueKind != JsonValueKind.Array || m.GetArrayLength() != 4)
            throw new InvalidDataException($"{at}: {bad}");
        var values = new double[16];
        int r = 0;
        foreach (var row in m.EnumerateArray())
        {
            if (row.ValueKind != JsonValueKind.Array || row.GetArrayLength() != 4) throw new InvalidDataException($"{at}: {bad}");
            int c = 0;
            foreach (var v in row.EnumerateArray())
            {
                if (v.ValueKind != JsonValueKind.Number || !double.IsFinite(v.GetDouble())) throw new InvalidDataException($"{at}: {bad}");
                values[r * 4 + c++] = v.GetDouble();
            }
            r++;
        }
        return values;
    }

    /// <summary>An RGB or RGBA PNG as (H, W, 3) floats in [0, 1]; alpha composites onto white.</summary>
    static (int Width, int Height, float[] Pixels) ReadRgb(string file)
    {
        var image = Png.Read(file);
        if (image.Channels < 3) throw new InvalidDataException($"{file}: a {image.ChannelName} image; NeRF views are RGB or RGBA");
        var pixels = new float[image.Width * image.Height * 3];
        var src = image.Pixels;
        for (int p = 0; p < image.Width * image.Height; p++)
        {
            float alpha = image.Channels == 4 ? src[p * 4 + 3] / 255f : 1f;
            for (int c = 0; c < 3; c++)
                pixels[p * 3 + c] = src[p * image.Channels + c] / 255f * alpha + (1f - alpha);
        }
        return (image.Width, image.Height, pixels);
    }
}
