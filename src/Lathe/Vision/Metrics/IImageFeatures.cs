using Lathe.Tensors;

namespace Lathe.Vision.Metrics;

/// <summary>A feature extractor for image metrics (the Fréchet distance): images (N, C, H, W), in the range the model
/// was trained on, to feature vectors (N, <see cref="Dimension"/>). A classifier implements it with the activations it
/// classifies from (for the ViT: the pooled, normalised token before the head).</summary>
public interface IImageFeatures
{
    /// <summary>The length D of one image's feature vector.</summary>
    int Dimension { get; }

    /// <summary>(N, C, H, W) → (N, D). Called under <c>Tape.NoGrad()</c>; with no tape active the caller disposes the
    /// result.</summary>
    Tensor Features(Tensor images);
}
