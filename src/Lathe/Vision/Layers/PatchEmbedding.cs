using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Vision.Layers;

/// <summary>ViT's patch embedding (Dosovitskiy et al. 2021, §3.1): images (N, C, H, W) are cut into non-overlapping
/// p×p patches in row-major grid order, each flattened as (C, p, p) and projected to the model width — exactly a Conv2d
/// with kernel = stride = p, stored as Hugging Face ViT stores it (<c>….patch_embeddings.projection.weight</c> (width, C, p, p)
/// and <c>.bias</c> (width)). Computed as a reshape/permute and one matrix product, so it needs no convolution kernel.</summary>
public sealed class PatchEmbedding
{
    readonly Tensor _weight;   // (width, C, p, p)
    readonly Tensor _bias;     // (width)

    /// <summary>Image channels C.</summary>
    public int Channels { get; }
    /// <summary>Patch side p.</summary>
    public int Patch { get; }
    /// <summary>Output width (the model's hidden size).</summary>
    public int Width { get; }

    /// <summary>Registers <paramref name="prefix"/>.weight (width, C, p, p) ~ N(0, std) and .bias (width) = 0.</summary>
    internal PatchEmbedding(ParameterBuilder p, string prefix, int channels, int patch, int width, float std)
    {
        Channels = channels; Patch = patch; Width = width;
        _weight = p.Normal(prefix + ".weight", std, decay: true, storedTransposed: false, width, channels, patch, patch);
        _bias = p.Constant(prefix + ".bias", 0f, width);
    }

    /// <summary>Tokens of a (H/p)×(W/p) grid for an image of <paramref name="height"/>×<paramref name="width"/>.</summary>
    public int Tokens(int height, int width) => height / Patch * (width / Patch);

    /// <summary>images (N, C, H, W) → (N, T, width) with T = (H/p)·(W/p), token t = grid row t / (W/p), column t % (W/p).
    /// H and W must be multiples of p (the model checks this where images enter).</summary>
    public Tensor Forward(Tensor images)
    {
        int N = images.Dim(0), C = images.Dim(1), H = images.Dim(2), W = images.Dim(3), p = Patch;
        int gh = H / p, gw = W / p;
        // (N,C,H,W) → (N,C,gh,p,gw,p) → (N,gh,gw,C,p,p) → (N,T,C·p·p): each row one patch in Conv2d's (C, kh, kw) order.
        var patches = Ops.Permute(Ops.Reshape(images, N, C, gh, p, gw, p), 0, 2, 4, 1, 3, 5);
        var rows = Ops.Reshape(patches, N, gh * gw, C * p * p);
        return Ops.Linear(rows, Ops.Reshape(_weight, Width, C * p * p), _bias);   // (N,T,width)
    }
}
