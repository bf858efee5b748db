using Lathe.Tensors;

namespace Lathe.Vision.Diffusion;

/// <summary>A network that predicts the noise ε in a noisy sample x_t (ε-prediction, Ho et al. 2020 §3.2), optionally
/// conditioned on a class label; the DiT is one.</summary>
public interface INoisePredictor
{
    /// <summary>Channels, height and width of the samples it denoises.</summary>
    int Channels { get; }
    int Height { get; }
    int Width { get; }

    /// <summary>True when it takes a class label; false for an unconditional model.</summary>
    bool IsConditional { get; }

    /// <summary>The label meaning "no class" (classifier-free guidance's null condition); -1 for an unconditional model.</summary>
    int NullLabel { get; }

    /// <summary>ε̂ (N, C, H, W) for noisy samples <paramref name="x"/> (N, C, H, W) at timesteps <paramref name="t"/> (N,
    /// each in [0, T)) with class <paramref name="labels"/> (N; <see cref="NullLabel"/> for none; ignored when
    /// unconditional).</summary>
    Tensor PredictNoise(Tensor x, ReadOnlySpan<int> t, ReadOnlySpan<int> labels);
}
