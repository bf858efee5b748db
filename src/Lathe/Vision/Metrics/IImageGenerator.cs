using Lathe.Tensors;

namespace Lathe.Vision.Metrics;

/// <summary>A trained image generator seen by the scorer: draws images (N, C, H, W) in [0, 1], the range the ViT
/// classifier was trained on. <see cref="GeneratorAdapters"/> wraps each generative architecture in one.</summary>
public interface IImageGenerator : IDisposable
{
    /// <summary>The checkpoint's model_type (dcgan, realnvp, vae, dit).</summary>
    string ModelType { get; }

    /// <summary>True when <see cref="Sample"/> draws one image of each requested class.</summary>
    bool ClassConditional { get; }

    /// <summary>The number of classes a class-conditional generator takes (0 when unconditional).</summary>
    int Classes { get; }

    /// <summary>(channels, height, width) of one image.</summary>
    (int Channels, int Height, int Width) ImageShape { get; }

    /// <summary>Draws <paramref name="count"/> images (count, C, H, W) in [0, 1] from <paramref name="seed"/>.
    /// <paramref name="labels"/> holds count class indices when <see cref="ClassConditional"/>, and is empty otherwise.
    /// The caller disposes the tensor.</summary>
    Tensor Sample(int count, ReadOnlySpan<int> labels, ulong seed);
}
