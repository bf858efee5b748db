using System.Numerics;
using System.Runtime.CompilerServices;

namespace Lathe.Data;

/// <summary>The 64-bit hashes of the data stage. Fixed algorithms (not string.GetHashCode, which is seeded
/// per process), so dedup decisions and train/val splits are the same on every run and machine.</summary>
public static class Hash64
{
    const ulong Offset = 14695981039346656037UL, Prime = 1099511628211UL;

    /// <summary>SplitMix64's finalizer (Steele et al. 2014): a bijection that spreads every input bit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Mix(ulong x)
    {
        x ^= x >> 30; x *= 0xBF58476D1CE4E5B9UL;
        x ^= x >> 27; x *= 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    /// <summary>FNV-1a over the UTF-16 code units, finished with <see cref="Mix"/>.</summary>
    public static ulong Of(ReadOnlySpan<char> text)
    {
        ulong h = Offset;
        foreach (char c in text) h = (h ^ c) * Prime;
        return Mix(h ^ (ulong)text.Length);
    }

    /// <summary>The hash of the text as exact dedup compares it: case folded (invariant), every run of white
    /// space counted as one space, leading and trailing white space ignored.</summary>
    public static ulong OfNormalized(ReadOnlySpan<char> text)
    {
        ulong h = Offset;
        bool pendingSpace = false, any = false;
        foreach (char c in text)
        {
            if (char.IsWhiteSpace(c)) { pendingSpace = any; continue; }
            if (pendingSpace) { h = (h ^ ' ') * Prime; pendingSpace = false; }
            h = (h ^ char.ToLowerInvariant(c)) * Prime;
            any = true;
        }
        return Mix(h);
    }

    /// <summary>Combines two hashes (order matters).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Combine(ulong a, ulong b) => Mix(BitOperations.RotateLeft(a, 23) ^ b ^ 0x9E3779B97F4A7C15UL);
}
