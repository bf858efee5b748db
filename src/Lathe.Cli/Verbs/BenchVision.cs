using System.CommandLine;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe bench vision --model vit|dit`: training steps per second of the fixed ViT and DiT
/// configurations at batch 64; prints images_per_s and peak_rss_mb as JSON last. The models' runs are in
/// BenchVisionVit.cs and BenchVisionDit.cs; the PyTorch peers are scripts/bench/vision_peer_vit.py and vision_peer_dit.py.</summary>
internal static class BenchVision
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "vit or dit.", Required = true };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var steps = new Option<int>("--steps") { Description = "Timed training steps (median step time reported).", DefaultValueFactory = _ => 20 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed steps first.", DefaultValueFactory = _ => 3 };
        var batch = new Option<int>("--batch-size") { Description = "Images per step.", DefaultValueFactory = _ => 64 };
        var command = new Command("vision", "Training speed of the issue's ViT or DiT (images/s); prints images_per_s and peak_rss_mb as JSON last.")
            { model, threads, steps, warmup, batch };
        command.SetAction(r =>
        {
            string m = r.GetValue(model)!;
            int t = r.GetValue(threads), s = r.GetValue(steps), w = r.GetValue(warmup), b = r.GetValue(batch);
            if (t <= 0 || s <= 0 || w < 0 || b <= 0)
                throw new UserInputException("bench vision: --threads, --steps and --batch-size must be positive, --warmup not negative");
            return m switch
            {
                "vit" => BenchVisionVit.Run(t, s, w, b),
                "dit" => BenchVisionDit.Run(t, s, w, b),
                _ => throw new UserInputException($"bench vision: --model '{m}' is not one of vit, dit"),
            };
        });
        return command;
    }
}
