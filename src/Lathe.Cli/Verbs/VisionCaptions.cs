using System.CommandLine;
using Lathe.Vision.Data;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe vision captions --split train|test --out captions.jsonl`: Fashion-MNIST's captions built from the
/// class names and the attributes derived from each image (CaptionSet), one JSON object per image.</summary>
internal static class VisionCaptions
{
    public static Command Create()
    {
        var split = new Option<string>("--split") { Description = "train (training images, training templates) or test (test images, every template).", DefaultValueFactory = _ => "train" };
        var output = new Option<string>("--out") { Description = "Where to write the JSONL.", Required = true };
        var data = new Option<string?>("--data") { Description = "Folder with the Fashion-MNIST IDX files (default: Debian's)." };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the per-image template choice.", DefaultValueFactory = _ => CaptionSet.DefaultSeed };
        var command = new Command("captions", "Write Fashion-MNIST captions (class + image-derived attributes) as JSONL.") { split, output, data, seed };
        command.SetAction(r =>
        {
            var which = r.GetValue(split) switch
            {
                "train" => CaptionSplit.Train,
                "test" => CaptionSplit.Test,
                var s => throw new UserInputException($"vision captions: --split '{s}' is not one of train, test"),
            };
            string outPath = r.GetValue(output)!;
            var set = CaptionSet.Load(which, r.GetValue(data), r.GetValue(seed));
            set.WriteJsonl(outPath);
            Console.Error.WriteLine($"{set.Entries.Count} captions ({which.ToString().ToLowerInvariant()}) → {outPath}");
            return 0;
        });
        return command;
    }
}
