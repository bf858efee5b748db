using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Tuning;

/// <summary>The parameter bookkeeping prefix tuning, prompt tuning and bottleneck adapters share: their own tensors
/// (not the model's), how they start and how they are released.</summary>
internal static class TuningParameters
{
    /// <summary>A parameter tensor of the method (not the model): named, requiring a gradient.</summary>
    public static ModelParameter Parameter(string name, Tensor value, bool decay)
    {
        value.Name = name;
        value.RequiresGrad = true;
        return new ModelParameter(name, value, storedTransposed: false, decay);
    }

    /// <summary>Makes <paramref name="value"/> a parameter of the method, adds it to <paramref name="trainable"/> and
    /// returns it (so a constructor keeps the field and registers it in one expression).</summary>
    public static Tensor Add(List<ModelParameter> trainable, string name, Tensor value, bool decay)
    {
        trainable.Add(Parameter(name, value, decay));
        return value;
    }

    /// <summary>Finishes a freshly built method (reads its tensors, attaches it) and returns it; if that throws, the
    /// method is disposed first, so a failed load leaves no slot filled and no tensor allocated.</summary>
    public static T CompleteOrDispose<T>(T method, Action<T> complete) where T : ITuningMethod
    {
        try
        {
            complete(method);
            return method;
        }
        catch
        {
            method.Dispose();
            throw;
        }
    }

    /// <summary>Releases a method's parameters and their gradient buffers.</summary>
    public static void Dispose(IEnumerable<ModelParameter> parameters)
    {
        foreach (var p in parameters) { p.Value.ReleaseGrad(); p.Value.Dispose(); }
    }

    /// <summary>Fills <paramref name="values"/> like PyTorch's default nn.Linear init: U(−1/√fanIn, 1/√fanIn)
    /// (kaiming_uniform_ with a = √5 for the weight; the same bound for the bias).</summary>
    public static void LinearDefault(Philox rng, Span<float> values, int fanIn)
    {
        float bound = 1f / MathF.Sqrt(fanIn);
        rng.FillUniform(values, -bound, bound);
    }
}
