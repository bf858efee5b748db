using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Training;

/// <summary>AdamW over a model's parameters with decoupled weight decay applied only to parameters marked
/// for decay (matrices), and global-norm gradient clipping. Moments are saved to optimizer.safetensors.</summary>
public sealed unsafe class AdamWOptimizer : IDisposable
{
    readonly ModelParameter[] _parameters;   // an array: foreach over it allocates no enumerator
    readonly Tensor[] _m, _v;
    public float Beta1 { get; init; } = 0.9f;
    public float Beta2 { get; init; } = 0.95f;
    public float Eps { get; init; } = 1e-8f;
    public float WeightDecay { get; init; } = 0.1f;
    /// <summary>Number of updates taken (AdamW's t; bias correction uses it).</summary>
    public int StepCount { get; set; }

    public AdamWOptimizer(IReadOnlyList<ModelParameter> parameters)
    {
        _parameters = parameters.ToArray();
        _m = new Tensor[parameters.Count];
        _v = new Tensor[parameters.Count];
        for (int i = 0; i < parameters.Count; i++)
        {
            _m[i] = Tensor.Zeros(parameters[i].Value.Shape);
            _v[i] = Tensor.Zeros(parameters[i].Value.Shape);
        }
    }

    /// <summary>The global L2 norm of all gradients, summed in parameter order (deterministic).</summary>
    public double GradientNorm()
    {
        double sum = 0;
        foreach (var p in _parameters)
            if (p.Value.Grad is { } g) sum += Lathe.Tensors.Kernels.AdamW.SumOfSquares(g.AsSpan());
        return Math.Sqrt(sum);
    }

    /// <summary>Scales every gradient by <paramref name="factor"/>.</summary>
    public void ScaleGradients(float factor)
    {
        foreach (var p in _parameters)
            if (p.Value.Grad is { } g) System.Numerics.Tensors.TensorPrimitives.Multiply(g.AsSpan(), factor, g.AsSpan());
    }

    /// <summary>One update at learning rate <paramref name="lr"/>.</summary>
    public void Step(float lr)
    {
        StepCount++;
        for (int i = 0; i < _parameters.Length; i++)
        {
            var p = _parameters[i];
            if (p.Value.Grad is not { } g) continue;
            Lathe.Tensors.Kernels.AdamW.Step(p.Value.Data, g.Data, _m[i].Data, _v[i].Data, p.Value.Length, lr, Beta1, Beta2, Eps,
                p.Decay ? WeightDecay : 0f, StepCount);
        }
    }

    public void ZeroGrad()
    {
        foreach (var p in _parameters) p.Value.ZeroGrad();
    }

    public void Save(string path)
    {
        var items = new List<SafetensorsWriter.Item>(2 * _parameters.Length);
        for (int i = 0; i < _parameters.Length; i++)
        {
            long[] shape = _parameters[i].Value.Shape.ToArray().Select(d => (long)d).ToArray();
            items.Add(SafetensorsWriter.F32("exp_avg." + _parameters[i].Name, shape, _m[i].ToArray()));
            items.Add(SafetensorsWriter.F32("exp_avg_sq." + _parameters[i].Name, shape, _v[i].ToArray()));
        }
        SafetensorsWriter.Write(path, items, new Dictionary<string, string> { ["step"] = StepCount.ToString(System.Globalization.CultureInfo.InvariantCulture) });
    }

    public void Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint: {path} not found");
        using var file = SafetensorsFile.Open(path);
        for (int i = 0; i < _parameters.Length; i++)
        {
            Read(file, "exp_avg." + _parameters[i].Name, _m[i]);
            Read(file, "exp_avg_sq." + _parameters[i].Name, _v[i]);
        }
        StepCount = int.Parse(file.Metadata["step"], System.Globalization.CultureInfo.InvariantCulture);
    }

    static void Read(SafetensorsFile file, string name, Tensor into)
    {
        if (!file.Entries.TryGetValue(name, out var e)) throw new InvalidDataException($"checkpoint: {file.Path}: tensor '{name}' is missing");
        if (e.ElementCount != into.Length) throw new InvalidDataException($"checkpoint: {file.Path}: tensor '{name}' has {e.ElementCount} values, expected {into.Length}");
        file.ReadFloats(name).CopyTo(into.AsSpan());
    }

    public void Dispose()
    {
        foreach (var t in _m) t.Dispose();
        foreach (var t in _v) t.Dispose();
    }
}
