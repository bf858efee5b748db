using Lathe.Formats;
using Lathe.Models;
using System.Runtime.InteropServices;
using Lathe.Tensors;
using Lathe.Tensors.Threading;

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

    // The update and the norm run on the compute pool: on a ViT step the serial optimizer left the second thread idle
    // for ~1% of the step. Per step, the pointer tables below are filled (gradients may be new buffers); the update's
    // work items are slices of at most SliceLength values, so large matrices are shared; each value's update depends
    // on that value alone, so the result is the serial one bit for bit. The norm sums each parameter on its own (in the
    // serial order of its chunks), then the parameters in order: the same double as the serial sum.
    const int SliceLength = 1 << 16;
    Tables* _tables;

    struct Tables
    {
        public float** P, G, M, V;
        public int* Length, SliceParam, SliceStart, SliceLength;
        public float* Decay;
        public double* Sums;
        public int Slices;
    }

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
        int n = _parameters.Length, slices = 0;
        foreach (var p in _parameters) slices += (int)Math.Max(1, (p.Value.Length + SliceLength - 1) / SliceLength);
        _tables = (Tables*)NativeMemory.AllocZeroed((nuint)sizeof(Tables));
        _tables->P = (float**)NativeMemory.AllocZeroed((nuint)(n * sizeof(float*)));
        _tables->G = (float**)NativeMemory.AllocZeroed((nuint)(n * sizeof(float*)));
        _tables->M = (float**)NativeMemory.AllocZeroed((nuint)(n * sizeof(float*)));
        _tables->V = (float**)NativeMemory.AllocZeroed((nuint)(n * sizeof(float*)));
        _tables->Length = (int*)NativeMemory.AllocZeroed((nuint)(n * sizeof(int)));
        _tables->Decay = (float*)NativeMemory.AllocZeroed((nuint)(n * sizeof(float)));
        _tables->Sums = (double*)NativeMemory.AllocZeroed((nuint)(n * sizeof(double)));
        _tables->SliceParam = (int*)NativeMemory.AllocZeroed((nuint)(slices * sizeof(int)));
        _tables->SliceStart = (int*)NativeMemory.AllocZeroed((nuint)(slices * sizeof(int)));
        _tables->SliceLength = (int*)NativeMemory.AllocZeroed((nuint)(slices * sizeof(int)));
        _tables->Slices = slices;
        for (int i = 0, k = 0; i < n; i++)
        {
            int length = (int)_parameters[i].Value.Length;
            _tables->Length[i] = length;
            for (int start = 0; start == 0 || start < length; start += SliceLength, k++)
            {
                _tables->SliceParam[k] = i;
                _tables->SliceStart[k] = start;
                _tables->SliceLength[k] = Math.Min(SliceLength, length - start);
            }
        }
    }

    // Points the tables at this step's buffers (a parameter without a gradient gets G = null and is skipped).
    void FillTables()
    {
        for (int i = 0; i < _parameters.Length; i++)
        {
            var value = _parameters[i].Value;
            _tables->P[i] = value.Data;
            _tables->G[i] = value.Grad is { } g ? g.Data : null;
            _tables->M[i] = _m[i].Data;
            _tables->V[i] = _v[i].Data;
            _tables->Decay[i] = _parameters[i].Decay ? WeightDecay : 0f;
        }
    }

    struct NormBody : IParallelBody
    {
        public Tables* T;
        public void Execute(int i) =>
            T->Sums[i] = T->G[i] == null ? 0 : Lathe.Tensors.Kernels.AdamW.SumOfSquares(new ReadOnlySpan<float>(T->G[i], T->Length[i]));
    }

    struct StepBody : IParallelBody
    {
        public Tables* T;
        public float Lr, Beta1, Beta2, Eps;
        public int Step;
        public void Execute(int k)
        {
            int i = T->SliceParam[k], start = T->SliceStart[k];
            if (T->G[i] == null) return;
            Lathe.Tensors.Kernels.AdamW.Step(T->P[i] + start, T->G[i] + start, T->M[i] + start, T->V[i] + start, T->SliceLength[k],
                Lr, Beta1, Beta2, Eps, T->Decay[i], Step);
        }
    }

    /// <summary>The global L2 norm of all gradients, summed in parameter order (deterministic).</summary>
    public double GradientNorm()
    {
        FillTables();
        var body = new NormBody { T = _tables };
        ComputePool.Shared.For(_parameters.Length, ref body);
        double sum = 0;
        for (int i = 0; i < _parameters.Length; i++) sum += _tables->Sums[i];
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
        FillTables();
        var body = new StepBody { T = _tables, Lr = lr, Beta1 = Beta1, Beta2 = Beta2, Eps = Eps, Step = StepCount };
        ComputePool.Shared.For(_tables->Slices, ref body);
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
        if (_tables == null) return;
        NativeMemory.Free(_tables->P); NativeMemory.Free(_tables->G); NativeMemory.Free(_tables->M); NativeMemory.Free(_tables->V);
        NativeMemory.Free(_tables->Length); NativeMemory.Free(_tables->Decay); NativeMemory.Free(_tables->Sums);
        NativeMemory.Free(_tables->SliceParam); NativeMemory.Free(_tables->SliceStart); NativeMemory.Free(_tables->SliceLength);
        NativeMemory.Free(_tables);
        _tables = null;
    }
}
