using System.CommandLine;
using Lathe.Tensors.Threading;
using Lathe.Vision;
using Lathe.Vision.Architectures;
using Lathe.Vision.Diffusion;
using Lathe.Vision.Images;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe generate --model DIT_DIR --prompt "a sneaker" --out samples.png`: the image branch of generate. The
/// prompt names a class (<see cref="ClassPrompt"/>); the DiT samples latents by DDIM (or DDPM) with classifier-free
/// guidance, the VAE decodes them, and the images are tiled into one PNG.</summary>
internal static class GenerateImage
{
    static readonly Option<string?> Out = new("--out") { Description = "Image models: the PNG grid to write." };
    static readonly Option<int> Count = new("--count") { Description = "Image models: images to generate.", DefaultValueFactory = _ => 16 };
    static readonly Option<int> SamplingSteps = new("--sampling-steps") { Description = "Image models: DDIM steps.", DefaultValueFactory = _ => 50 };
    static readonly Option<float> Guidance = new("--guidance") { Description = "Image models: classifier-free guidance scale w (1 = none).", DefaultValueFactory = _ => 3f };
    static readonly Option<float> Eta = new("--eta") { Description = "Image models: DDIM η (0 = deterministic).", DefaultValueFactory = _ => 0f };
    static readonly Option<string> Sampler = new("--sampler") { Description = "Image models: ddim or ddpm (all T steps).", DefaultValueFactory = _ => "ddim" };

    /// <summary>Adds the image options to generate.</summary>
    public static void AddTo(Command command)
    {
        foreach (var o in new Option[] { Out, Count, SamplingSteps, Guidance, Eta, Sampler }) command.Options.Add(o);
    }

    /// <summary>True when <paramref name="model"/> is a folder holding a DiT.</summary>
    public static bool Handles(string model) => Directory.Exists(model) && VisionCheckpoint.ModelTypeOf(model) == DitModel.Type;

    public static int Run(ParseResult r, string model, string? prompt, ulong seed, int threads)
    {
        string output = r.GetValue(Out) ?? throw new UserInputException("generate: --out FILE.png is needed for an image model");
        int count = r.GetValue(Count);
        if (count is < 1 or > 1024) throw new UserInputException($"generate: --count {count} must be in 1-1024");
        ComputePool.SetSharedThreads(threads);
        using var diffusion = LatentDiffusion.Load(model);
        int label = 0;
        if (diffusion.Dit.IsConditional)
        {
            if (prompt is null) throw new UserInputException($"generate: {model} is class-conditional; name a class with --prompt ({string.Join(", ", diffusion.ClassNames)})");
            try { label = ClassPrompt.Match(prompt, diffusion.ClassNames); }
            catch (ArgumentException e) { throw new UserInputException("generate: " + e.Message); }
        }
        else if (prompt is not null)
            throw new UserInputException($"generate: --prompt: {model} is an unconditional model; it takes no prompt");
        var options = new DiffusionSamplingOptions
        {
            Sampler = r.GetValue(Sampler)!, SamplingSteps = r.GetValue(SamplingSteps), Guidance = r.GetValue(Guidance), Eta = r.GetValue(Eta), Seed = seed,
        };
        try { options.Validate(diffusion.Schedule.Steps); }
        catch (ArgumentException e) { throw new UserInputException("generate: " + e.Message); }
        var labels = new int[count];
        Array.Fill(labels, label);
        var started = System.Diagnostics.Stopwatch.StartNew();
        using var images = diffusion.Generate(labels, options);
        SampleGrid.Write(output, images, 0f, 1f);
        string what = diffusion.Dit.IsConditional ? $"'{diffusion.ClassNames[label]}'" : "unconditional";
        Console.Error.WriteLine($"generate: {count} {what} images, {options.Sampler} {(options.Sampler == "ddim" ? options.SamplingSteps : diffusion.Schedule.Steps)} steps, " +
            $"guidance {options.Guidance}, {started.Elapsed.TotalSeconds:F1} s → {output}");
        return 0;
    }
}
