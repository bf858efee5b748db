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
    /// <summary>AdamW's ε (the same for the sharded optimizer of data-parallel runs).</summary>
    public const float DefaultEps = 1e-8f;
    public float Eps { get; init; } = DefaultEps;
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

    public void Save(string path) => SaveMoments(path, _parameters, i => _m[i].ToArray(), i => _v[i].ToArray(), StepCount);

    public void Load(string path)
    {
        var (m, v, step) = LoadMoments(path, _parameters);
        for (int i = 0; i < _parameters.Length; i++)
        {
            m[i].CopyTo(_m[i].AsSpan());
            v[i].CopyTo(_v[i].AsSpan());
        }
        StepCount = step;
    }

    /// <summary>Writes optimizer.safetensors: exp_avg.NAME and exp_avg_sq.NAME per parameter and the step count — the
    /// one format whether the moments lived in one process or were sharded over ranks (ZeRO-1).</summary>
    public static void SaveMoments(string path, IReadOnlyList<ModelParameter> parameters, Func<int, float[]> m, Func<int, float[]> v, int step)
    {
        var items = new List<SafetensorsWriter.Item>(2 * parameters.Count);
        for (int i = 0; i < parameters.Count; i++)
        {
            long[] shape = parameters[i].Value.Shape.ToArray().Select(d => (long)d).ToArray();
            items.Add(SafetensorsWriter.F32("exp_avg." + parameters[i].Name, shape, m(i)));
            items.Add(SafetensorsWriter.F32("exp_avg_sq." + parameters[i].Name, shape, v(i)));
        }
        SafetensorsWriter.Write(path, items, new Dictionary<string, string> { ["step"] = step.ToString(System.Globalization.CultureInfo.InvariantCulture) });
    }

    /// <summary>Reads what <see cref="SaveMoments"/> wrote, checking every tensor's presence and size.</summary>
    public static (float[][] M, float[][] V, int Step) LoadMoments(string path, IReadOnlyList<ModelParameter> parameters)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint: {path} not found");
        using var file = SafetensorsFile.Open(path);
        var m = new float[parameters.Count][];
        var v = new float[parameters.Count][];
        for (int i = 0; i < parameters.Count; i++)
        {
            m[i] = Read(file, "exp_avg." + parameters[i].Name, parameters[i].Value.Length);
            v[i] = Read(file, "exp_avg_sq." + parameters[i].Name, parameters[i].Value.Length);
        }
        if (!file.Metadata.TryGetValue("step", out var text) || !int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int step))
            throw new InvalidDataException($"checkpoint: {path}: metadata field 'step' is missing or not a count");
        return (m, v, step);
    }

    static float[] Read(SafetensorsFile file, string name, long length)
    {
        if (!file.Entries.TryGetValue(name, out var e)) throw new InvalidDataException($"checkpoint: {file.Path}: tensor '{name}' is missing");
        if (e.ElementCount != length) throw new InvalidDataException($"checkpoint: {file.Path}: tensor '{name}' has {e.ElementCount} values, expected {length}");
        return file.ReadFloats(name).ToArray();
    }

    public void Dispose()
    {
        foreach (var t in _m) t.Dispose();
        foreach (var t in _v) t.Dispose();
    }
}
