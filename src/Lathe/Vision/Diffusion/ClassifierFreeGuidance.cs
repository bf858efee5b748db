using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Vision.Diffusion;

/// <summary>Classifier-free guidance (Ho &amp; Salimans 2022, eq. 6 written with w as the guidance scale of DiT and
/// Stable Diffusion): ε̂ = ε_u + w·(ε_c − ε_u), where ε_c is the prediction for the class and ε_u for the null label
/// the model was trained on by dropping the class with probability 0.1. w = 1 is the plain conditional model, w = 0
/// the unconditional one.</summary>
public static class ClassifierFreeGuidance
{
    /// <summary>The label-dropout probability used in training (Ho &amp; Salimans 2022 §4; DiT's class_dropout_prob).</summary>
    public const float LabelDropout = 0.1f;

    /// <summary>dst = ε_u + w·(ε_c − ε_u), element by element (dst may alias either input).</summary>
    public static void Combine(ReadOnlySpan<float> unconditional, ReadOnlySpan<float> conditional, float w, Span<float> dst)
    {
        if (unconditional.Length != conditional.Length || dst.Length != conditional.Length)
            throw new ArgumentException("ClassifierFreeGuidance.Combine: the two predictions and the output must be the same length");
        for (int i = 0; i < dst.Length; i++) dst[i] = unconditional[i] + w * (conditional[i] - unconditional[i]);
    }
}

/// <summary>Evaluates a <see cref="INoisePredictor"/> during sampling without recording gradients, with classifier-free
/// guidance when the model is conditional and w ≠ 1: conditional and null-label rows run as one batch of 2N, then
/// <see cref="ClassifierFreeGuidance.Combine"/>. Reuses one tape, so a sampling loop allocates nothing per step.</summary>
public sealed class GuidedNoiseEstimator : IDisposable
{
    readonly INoisePredictor _model;
    readonly Tape _tape = new();
    readonly int[] _labels, _t;
    readonly Tensor _x;
    readonly bool _doubled;
    readonly int _n, _size;

    public float Guidance { get; }

    /// <param name="labels">The class of each of the N samples (ignored for an unconditional model).</param>
    /// <param name="guidance">w; 1 runs the conditional model alone.</param>
    public GuidedNoiseEstimator(INoisePredictor model, ReadOnlySpan<int> labels, float guidance)
    {
        _model = model;
        Guidance = guidance;
        _n = labels.Length;
        _size = model.Channels * model.Height * model.Width;
        _doubled = model.IsConditional && guidance != 1f;
        int rows = _doubled ? 2 * _n : _n;
        _labels = new int[rows];
        _t = new int[rows];
        for (int i = 0; i < _n; i++)
        {
            _labels[i] = model.IsConditional ? labels[i] : model.NullLabel;
            if (_doubled) _labels[_n + i] = model.NullLabel;
        }
        _x = Tensor.Zeros(rows, model.Channels, model.Height, model.Width);
    }

    /// <summary>Writes ε̂ for samples <paramref name="x"/> (N·C·H·W) at timestep <paramref name="t"/> into <paramref name="eps"/>.</summary>
    public void Estimate(ReadOnlySpan<float> x, int t, Span<float> eps)
    {
        var xs = _x.AsSpan();
        x.CopyTo(xs);
        if (_doubled) x.CopyTo(xs[x.Length..]);
        Array.Fill(_t, t);
        _tape.Reset();
        using (_tape.Activate())
        using (Tape.NoGrad())
        {
            var e = _model.PredictNoise(_x, _t, _labels).AsSpan();
            int half = _n * _size;
            if (_doubled) ClassifierFreeGuidance.Combine(e[half..], e[..half], Guidance, eps);
            else e[..half].CopyTo(eps);
        }
    }

    public void Dispose()
    {
        _tape.Dispose();
        _x.Dispose();
    }
}
