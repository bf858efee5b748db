namespace Lathe.Alignment;

/// <summary>Running means of an objective's named figures over the micro-batches of one step; taking them resets.</summary>
public sealed class StepAverages(params string[] names)
{
    readonly double[] _sums = new double[names.Length];
    int _count;

    /// <summary>Adds one micro-batch's values, in the order of the names.</summary>
    public void Add(params ReadOnlySpan<double> values)
    {
        for (int i = 0; i < _sums.Length; i++) _sums[i] += values[i];
        _count++;
    }

    public IReadOnlyList<KeyValuePair<string, double>>? Take()
    {
        if (_count == 0) return null;
        var result = new KeyValuePair<string, double>[_sums.Length];
        for (int i = 0; i < _sums.Length; i++) result[i] = new(names[i], _sums[i] / _count);
        Array.Clear(_sums);
        _count = 0;
        return result;
    }
}
