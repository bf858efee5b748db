using Lathe.Data;
using Lathe.Tensors;

namespace Lathe.Training;

/// <summary>The order an epoch visits N examples in: a Fisher–Yates shuffle from a generator keyed by (seed, epoch),
/// so any epoch's order is recomputed alone on resume, bit for bit.</summary>
public static class EpochPermutation
{
    /// <summary>Fills <paramref name="order"/> with the permutation of 0…N−1 for <paramref name="epoch"/>.</summary>
    public static void Fill(Span<int> order, ulong seed, long epoch)
    {
        for (int i = 0; i < order.Length; i++) order[i] = i;
        var rng = new Philox(Hash64.Mix(Hash64.Mix(seed) ^ (ulong)epoch));
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = rng.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
    }
}
