namespace Lathe.Data;

/// <summary>Holds out a fraction of a data set for validation, chosen by a seed: the same seed and items give the same
/// split on every run (a resumed fine-tuning run validates on the same examples). Both parts keep the items' order.</summary>
public static class ValidationSplit
{
    /// <summary>round(<paramref name="fraction"/>·N) items (at least 1 when the fraction is above 0) for validation,
    /// picked as those whose hash of (seed, index) is smallest; the rest for training.</summary>
    /// <exception cref="ArgumentException">A fraction outside [0, 1), or a split that leaves no training item.</exception>
    public static (List<T> Train, List<T> Validation) Split<T>(IReadOnlyList<T> items, double fraction, ulong seed)
    {
        if (!(fraction >= 0 && fraction < 1)) throw new ArgumentException($"validation fraction {fraction} must be in [0, 1).");
        int held = fraction == 0 ? 0 : Math.Max(1, (int)Math.Round(fraction * items.Count));
        if (held >= items.Count) throw new ArgumentException($"validation fraction {fraction} of {items.Count} items leaves none to train on.");
        var rank = new ulong[items.Count];
        var index = new int[items.Count];
        ulong key = Hash64.Mix(seed ^ 0x5A17_5EEDUL);
        for (int i = 0; i < items.Count; i++) { rank[i] = Hash64.Mix(key ^ (ulong)i); index[i] = i; }
        Array.Sort(rank, index);
        var isHeld = new bool[items.Count];
        for (int i = 0; i < held; i++) isHeld[index[i]] = true;
        var train = new List<T>(items.Count - held);
        var validation = new List<T>(held);
        for (int i = 0; i < items.Count; i++) (isHeld[i] ? validation : train).Add(items[i]);
        return (train, validation);
    }
}
