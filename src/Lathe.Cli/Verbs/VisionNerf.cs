using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Lathe.Vision;
using Lathe.Vision.Architectures;
using Lathe.Vision.Images;
using Lathe.Vision.Nerf;
using Lathe.Vision.Training;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe vision nerf train|eval|render`: fit a NeRF to a scene folder's training views (Blender convention:
/// transforms_train.json + PNGs; data/nerf-scene is the repo's own), score held-out views by PSNR, render views.</summary>
internal static class VisionNerf
{
    static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    public static Command Create()
    {
        var nerf = new Command("nerf", "Neural radiance field on a ray-traced scene: train, eval (held-out PSNR), render.");
        nerf.Subcommands.Add(Train());
        nerf.Subcommands.Add(Eval());
        nerf.Subcommands.Add(Render());
        return nerf;
    }

    static Option<string> SceneOption() => new("--scene") { Description = "Scene folder: transforms_{train,test}.json and the PNG views they name (e.g. data/nerf-scene).", Required = true };
    static Option<string> ModelOption() => new("--model") { Description = "A NeRF run or checkpoint folder (from `vision nerf train`).", Required = true };
    static Option<string> SplitOption() => new("--split") { Description = "Which transforms_SPLIT.json to use.", DefaultValueFactory = _ => "test" };

    static Command Train()
    {
        var d = new NerfConfig();
        var scene = SceneOption();
        var output = new Option<string>("--out") { Description = "Run folder (checkpoint/, metrics.jsonl).", Required = true };
        var steps = new Option<int>("--steps") { Description = "Optimizer updates.", DefaultValueFactory = _ => 3000 };
        var rays = new Option<int>("--rays") { Description = "Rays (pixels) per batch.", DefaultValueFactory = _ => 1024 };
        var lr = new Option<float>("--lr") { Description = "Peak learning rate (warm-up, then cosine to a tenth).", DefaultValueFactory = _ => 2e-3f };
        var warmup = new Option<int>("--warmup") { Description = "Warm-up steps.", DefaultValueFactory = _ => 100 };
        var samples = new Option<int>("--samples") { Description = "Stratified samples per ray.", DefaultValueFactory = _ => d.Samples };
        var width = new Option<int>("--width") { Description = "MLP width.", DefaultValueFactory = _ => d.Width };
        var depth = new Option<int>("--depth") { Description = "MLP trunk layers.", DefaultValueFactory = _ => d.Depth };
        var skip = new Option<int>("--skip") { Description = "Trunk layer that takes γ(x) again (−1: none).", DefaultValueFactory = _ => d.Skip };
        var freqs = new Option<int>("--frequencies") { Description = "Positional-encoding frequencies L for positions.", DefaultValueFactory = _ => d.PositionFrequencies };
        var viewDependent = new Option<bool>("--view-dependent") { Description = "Colour depends on the view direction (γ(d) with L = 4)." };
        var near = new Option<float>("--near") { Description = "Nearest sample distance.", DefaultValueFactory = _ => d.Near };
        var far = new Option<float>("--far") { Description = "Farthest sample distance.", DefaultValueFactory = _ => d.Far };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the weights, ray order and samples.", DefaultValueFactory = _ => 1UL };
        var every = new Option<int>("--checkpoint-every") { Description = "Steps between checkpoints (0: only at the end).", DefaultValueFactory = _ => 500 };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out from its checkpoint." };
        var command = new Command("train", "Fit a NeRF to the scene's training views; prints the held-out PSNR at the end.")
            { scene, output, steps, rays, lr, warmup, samples, width, depth, skip, freqs, viewDependent, near, far, seed, every, resume };
        command.SetAction(r =>
        {
            var config = new NerfConfig
            {
                Samples = r.GetValue(samples), Width = r.GetValue(width), Depth = r.GetValue(depth), Skip = r.GetValue(skip),
                PositionFrequencies = r.GetValue(freqs), ViewDependent = r.GetValue(viewDependent), Near = r.GetValue(near), Far = r.GetValue(far),
            }.Validate("vision nerf train");
            var options = new VisionTrainingOptions
            {
                Steps = r.GetValue(steps), BatchSize = r.GetValue(rays), LearningRate = r.GetValue(lr), WarmupSteps = r.GetValue(warmup),
                WeightDecay = 0f, Seed = r.GetValue(seed), CheckpointEvery = r.GetValue(every),
            }.Validate();
            return RunTrain(r.GetValue(scene)!, r.GetValue(output)!, config, options, r.GetValue(resume));
        });
        return command;
    }

    static int RunTrain(string scenePath, string runDir, NerfConfig config, VisionTrainingOptions options, bool resume)
    {
        var train = NerfScene.Load(scenePath, "train");
        bool hasTest = File.Exists(NerfScene.TransformsPath(scenePath, "test"));
        var test = hasTest ? NerfScene.Load(scenePath, "test") : null;
        using var model = new NerfModel(config, options.Seed);
        using var trainer = new VisionTrainer(model.Parameters, options, runDir);
        if (resume)
        {
            string checkpoint = Path.Combine(runDir, Lathe.Formats.Checkpoint.Folder);
            VisionCheckpoint.LoadWeights(Path.Combine(checkpoint, Lathe.Formats.Checkpoint.ModelFile), model.Parameters);
            if (!trainer.Resume()) throw new FileNotFoundException($"--resume: no checkpoint in {checkpoint}");
        }
        using var fitter = new NerfFitter(model, train, trainer);
        using var console = new TrainingConsole();
        Console.Error.WriteLine($"nerf: {train.Views.Count} training views {train.Width}×{train.Height} ({fitter.RayCount} rays), "
            + $"{model.Parameters.Sum(p => (long)p.Value.Length):N0} parameters, {options.BatchSize} rays × {config.Samples} samples per step");
        var clock = Stopwatch.StartNew();
        int first = trainer.Step;
        while (trainer.Step < options.Steps && !console.Token.IsCancellationRequested)
        {
            float loss = fitter.Step();
            double perStep = clock.Elapsed.TotalSeconds / (trainer.Step - first);
            console.Report(new Lathe.Training.TrainingProgress(trainer.Step, options.Steps, loss, options.BatchSize / perStep,
                TimeSpan.FromSeconds(perStep * (options.Steps - trainer.Step)), null));
            if (trainer.CheckpointDue) trainer.Save(model);
        }
        if (trainer.Step < options.Steps) { trainer.Save(model); console.EndLine(); Console.Error.WriteLine($"nerf: stopped at step {trainer.Step}; --resume continues"); }
        console.EndLine();
        string line = $"nerf: {trainer.Step} steps in {clock.Elapsed.TotalSeconds:F0} s, last batch MSE {trainer.LastLoss:F5} (PSNR {NerfEvaluation.Psnr(trainer.LastLoss):F2} dB)";
        if (test is not null)
        {
            var score = NerfEvaluation.Evaluate(model, test);
            trainer.SetValidation(score.Mse);
            trainer.Save(model);
            line += $"; held-out PSNR {score.Psnr:F2} dB over {test.Views.Count} views";
        }
        Console.WriteLine(line);
        Console.WriteLine($"checkpoint: {Path.Combine(runDir, Lathe.Formats.Checkpoint.Folder)}");
        return 0;
    }

    static Command Eval()
    {
        var model = ModelOption();
        var scene = SceneOption();
        var split = SplitOption();
        var json = new Option<bool>("--json") { Description = "Print one JSON object." };
        var command = new Command("eval", "Render every view of a split (default: the held-out test views) and print PSNR = −10 log10 MSE.") { model, scene, split, json };
        command.SetAction(r =>
        {
            using var nerf = VisionCheckpoint.Load<NerfModel>(r.GetValue(model)!, "a NeRF");
            var views = NerfScene.Load(r.GetValue(scene)!, r.GetValue(split)!);
            var clock = Stopwatch.StartNew();
            var score = NerfEvaluation.Evaluate(nerf, views);
            double seconds = clock.Elapsed.TotalSeconds;
            if (r.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    split = r.GetValue(split), views = score.Views.Count, psnr = Math.Round(score.Psnr, 4), mse = score.Mse,
                    per_view_psnr = score.Views.Select(v => Math.Round(v.Psnr, 4)).ToArray(), seconds = Math.Round(seconds, 2),
                }, Json));
            else
            {
                foreach (var v in score.Views) Console.WriteLine($"{Path.GetFileName(v.File),-12} PSNR {v.Psnr:F2} dB");
                Console.WriteLine($"{r.GetValue(split)}: {score.Views.Count} views, mean PSNR {score.Psnr:F2} dB (MSE {score.Mse:F5}), rendered in {seconds:F1} s");
            }
            return 0;
        });
        return command;
    }

    static Command Render()
    {
        var model = ModelOption();
        var scene = SceneOption();
        var split = SplitOption();
        var view = new Option<string>("--view") { Description = "View index in the split, or \"all\".", DefaultValueFactory = _ => "0" };
        var output = new Option<string>("--out") { Description = "PNG file to write.", Required = true };
        var compare = new Option<bool>("--compare") { Description = "Write ground truth | render side by side (one row per view), scaled up." };
        var upscale = new Option<int>("--upscale") { Description = "Integer scale factor of --compare images.", DefaultValueFactory = _ => 4 };
        var command = new Command("render", "Render a view of the scene's cameras to PNG (or ground truth | render pairs with --compare).")
            { model, scene, split, view, output, compare, upscale };
        command.SetAction(r =>
        {
            using var nerf = VisionCheckpoint.Load<NerfModel>(r.GetValue(model)!, "a NeRF");
            var views = NerfScene.Load(r.GetValue(scene)!, r.GetValue(split)!);
            string which = r.GetValue(view)!;
            int[] indices;
            if (which == "all") indices = Enumerable.Range(0, views.Views.Count).ToArray();
            else if (int.TryParse(which, out int k) && k >= 0 && k < views.Views.Count) indices = [k];
            else throw new ArgumentException($"--view {which}: must be \"all\" or an index in [0, {views.Views.Count - 1}] of {NerfScene.TransformsPath(views.Folder, views.Split)}");
            string path = r.GetValue(output)!;
            if (!r.GetValue(compare) && indices.Length != 1) throw new ArgumentException("--view all needs --compare (one image per file otherwise)");
            var image = r.GetValue(compare)
                ? NerfImages.Compare(nerf, views, indices, r.GetValue(upscale))
                : NerfImages.ToImage(NerfEvaluation.Render(nerf, views.Views[indices[0]].Camera), views.Width, views.Height);
            Png.Write(path, image);
            Console.WriteLine($"wrote {path} ({image.Width}×{image.Height})");
            return 0;
        });
        return command;
    }
}
