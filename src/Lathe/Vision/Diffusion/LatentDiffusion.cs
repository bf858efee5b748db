using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Vision.Architectures;

namespace Lathe.Vision.Diffusion;

/// <summary>How <see cref="LatentDiffusion.Generate"/> samples.</summary>
public sealed record DiffusionSamplingOptions
{
    /// <summary>"ddim" (Song et al. 2021, over <see cref="SamplingSteps"/> steps) or "ddpm" (ancestral, all T steps).</summary>
    public string Sampler { get; init; } = "ddim";
    public int SamplingSteps { get; init; } = 50;
    /// <summary>Classifier-free guidance scale w (1 = the conditional model alone).</summary>
    public float Guidance { get; init; } = 3f;
    /// <summary>DDIM's η (0 = deterministic).</summary>
    public float Eta { get; init; }
    public ulong Seed { get; init; } = 1;

    public DiffusionSamplingOptions Validate(int diffusionSteps)
    {
        if (Sampler is not ("ddim" or "ddpm")) throw new ArgumentException($"--sampler '{Sampler}' is not one of ddim, ddpm");
        if (SamplingSteps < 1 || SamplingSteps > diffusionSteps) throw new ArgumentException($"--sampling-steps {SamplingSteps} must be in 1-{diffusionSteps}");
        if (!float.IsFinite(Guidance) || Guidance < 0) throw new ArgumentException($"--guidance {Guidance} must be a number ≥ 0");
        if (!(Eta >= 0) || float.IsInfinity(Eta)) throw new ArgumentException($"--eta {Eta} must be a number ≥ 0");
        return this;
    }
}

/// <summary>A DiT over a VAE's latent space (the latent diffusion of Rombach et al. 2022 with the DiT as the denoiser):
/// sample latents from N(0, I) by DDIM or DDPM with classifier-free guidance, divide by the latent scale, decode. A DiT
/// run folder holds the VAE it was trained on in checkpoint/vae/, so the folder generates on its own.</summary>
public sealed class LatentDiffusion : IDisposable
{
    /// <summary>The sub-folder of a DiT checkpoint that holds its VAE.</summary>
    public const string VaeFolder = "vae";

    public DitModel Dit { get; }
    public VaeModel Vae { get; }
    public NoiseSchedule Schedule { get; }

    public LatentDiffusion(DitModel dit, VaeModel vae)
    {
        Dit = dit;
        Vae = vae;
        Schedule = NoiseSchedule.Create(dit.Config.NoiseSchedule, dit.Config.DiffusionSteps);
        if (vae.Config.LatentChannels != dit.Channels || vae.Config.LatentSize != dit.Height)
            throw new InvalidDataException($"DiT: latents {dit.Channels}×{dit.Height}×{dit.Width} do not match the VAE's {vae.Config.LatentChannels}×{vae.Config.LatentSize}×{vae.Config.LatentSize}");
    }

    /// <summary>Loads a DiT checkpoint (or run) folder and the VAE inside it.</summary>
    public static LatentDiffusion Load(string dir)
    {
        var dit = VisionCheckpoint.Load<DitModel>(dir, "a DiT");
        try
        {
            string checkpoint = File.Exists(Path.Combine(dir, Checkpoint.ConfigFile)) ? dir : Path.Combine(dir, Checkpoint.Folder);
            string vaeDir = Path.Combine(checkpoint, VaeFolder);
            if (!Directory.Exists(vaeDir)) throw new FileNotFoundException($"{dir}: no {VaeFolder}/ folder beside the DiT (train it with lathe vision dit train --vae)");
            return new LatentDiffusion(dit, VisionCheckpoint.Load<VaeModel>(vaeDir, "a VAE"));
        }
        catch { dit.Dispose(); throw; }
    }

    /// <summary>The class names the DiT was trained on (empty for an unconditional model).</summary>
    public IReadOnlyList<string> ClassNames => Dit.Config.ClassNames;

    /// <summary>Generates one image per entry of <paramref name="labels"/> (class indices; ignored by an unconditional
    /// model) → (N, C, S, S) pixels in [0, 1], caller-owned. Same seed and thread count → same bits.</summary>
    public Tensor Generate(ReadOnlySpan<int> labels, DiffusionSamplingOptions options)
    {
        options.Validate(Schedule.Steps);
        int n = labels.Length;
        if (n == 0) throw new ArgumentException("--count must be positive");
        if (Dit.IsConditional)
            foreach (int y in labels)
                if ((uint)y >= (uint)Dit.Config.Classes) throw new ArgumentException($"class {y} is outside 0-{Dit.Config.Classes - 1}");
        var rng = new Philox(options.Seed);
        var x = new float[n * Dit.Channels * Dit.Height * Dit.Width];
        rng.FillNormal(x);                                                                   // x_T ~ N(0, I)
        using (var estimator = new GuidedNoiseEstimator(Dit, labels, options.Guidance))
        {
            if (options.Sampler == "ddpm") new Ddpm(Schedule).Sample(estimator, x, rng);
            else new Ddim(Schedule).Sample(estimator, x, options.SamplingSteps, options.Eta, rng);
        }
        float inverse = 1f / Dit.Config.LatentScale;
        for (int i = 0; i < x.Length; i++) x[i] *= inverse;
        using var z = Tensor.FromArray(x, n, Dit.Channels, Dit.Height, Dit.Width);
        using var tape = new Tape();
        using (tape.Activate())
        using (Tape.NoGrad())
        {
            var images = Vae.Decode(z);
            return Tensor.FromArray(images.AsSpan(), images.Shape);
        }
    }

    public void Dispose()
    {
        Dit.Dispose();
        Vae.Dispose();
    }
}
