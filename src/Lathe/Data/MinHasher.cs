using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Lathe.Data;

/// <summary>MinHash signatures (Broder 1997) over word shingles: words are maximal runs of letters and digits,
/// case folded; a shingle is <see cref="ShingleWords"/> consecutive words (a shorter document is one shingle).
/// Hash function i is h_i(x) = (a_i·x + b_i) mod 2^64 taken in its high 32 bits (multiply-add-shift,
/// Dietzfelbinger 1996) with a_i odd and b_i drawn from SplitMix64 started at the seed, so a seed fixes
/// every signature. The fraction of equal signature entries estimates the Jaccard similarity of the shingle sets.</summary>
public sealed class MinHasher
{
    readonly ulong[] a, b;

    /// <summary>Signature length.</summary>
    public int NumHashes { get; }
    /// <summary>Words per shingle.</summary>
    public int ShingleWords { get; }

    public MinHasher(int numHashes = 128, int shingleWords = 5, ulong seed = 1)
    {
        if (numHashes < 1) throw new ArgumentOutOfRangeException(nameof(numHashes));
        if (shingleWords < 1) throw new ArgumentOutOfRangeException(nameof(shingleWords));
        NumHashes = numHashes;
        ShingleWords = shingleWords;
        a = new ulong[numHashes];
        b = new ulong[numHashes];
        ulong state = seed;
        for (int i = 0; i < numHashes; i++)
        {
            a[i] = NextSplitMix(ref state) | 1;
            b[i] = NextSplitMix(ref state);
        }
    }

    static ulong NextSplitMix(ref ulong state)
    {
        state += 0x9E3779B97F4A7C15UL;
        return Hash64.Mix(state);
    }

    /// <summary>Writes the signature of <paramref name="text"/> into <paramref name="signature"/>
    /// (length <see cref="NumHashes"/>); returns the number of shingles (0: no words, signature meaningless).</summary>
    public int Signature(ReadOnlySpan<char> text, Span<uint> signature) => Signature(text, signature, vectorized: true);

    /// <summary><see cref="Signature(ReadOnlySpan{char}, Span{uint})"/> with the SIMD path on or off (the scalar
    /// path is the reference the tests compare with).</summary>
    internal int Signature(ReadOnlySpan<char> text, Span<uint> signature, bool vectorized)
    {
        if (signature.Length != NumHashes) throw new ArgumentException($"signature needs {NumHashes} entries", nameof(signature));
        // Minima are kept as 64-bit lanes (the high halves are zero) so the SIMD path needs no narrowing per shingle.
        Span<ulong> minima = NumHashes <= 512 ? stackalloc ulong[NumHashes] : new ulong[NumHashes];
        minima.Fill(uint.MaxValue);
        Span<ulong> window = stackalloc ulong[ShingleWords];
        int words = 0, shingles = 0;
        var reader = new WordHashes(text);
        while (reader.Next(out ulong word))
        {
            window[words % ShingleWords] = word;
            words++;
            if (words >= ShingleWords) { Update(ShingleHash(window, words), minima, vectorized); shingles++; }
        }
        if (words > 0 && words < ShingleWords) { Update(ShingleHash(window[..words], words), minima, vectorized); shingles++; }
        for (int i = 0; i < signature.Length; i++) signature[i] = (uint)minima[i];
        return shingles;
    }

    /// <summary>The set of shingle hashes of <paramref name="text"/> (for exact Jaccard; the slow twin of
    /// <see cref="Signature"/>'s estimate).</summary>
    public HashSet<ulong> Shingles(ReadOnlySpan<char> text)
    {
        var set = new HashSet<ulong>();
        Span<ulong> window = stackalloc ulong[ShingleWords];
        int words = 0;
        var reader = new WordHashes(text);
        while (reader.Next(out ulong word))
        {
            window[words % ShingleWords] = word;
            words++;
            if (words >= ShingleWords) set.Add(ShingleHash(window, words));
        }
        if (words > 0 && words < ShingleWords) set.Add(ShingleHash(window[..words], words));
        return set;
    }

    // The hash of the words in ring-buffer order: the oldest is at index `count % length`.
    static ulong ShingleHash(ReadOnlySpan<ulong> window, int count)
    {
        int n = window.Length, start = count % n;
        ulong h = 0x243F6A8885A308D3UL;
        for (int k = 0; k < n; k++) h = Hash64.Combine(h, window[(start + k) % n]);
        return h;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void Update(ulong shingle, Span<ulong> minima, bool vectorized)
    {
        int i = 0;
        if (vectorized && Vector512.IsHardwareAccelerated)
        {
            var x = Vector512.Create(shingle);
            for (; i + 8 <= minima.Length; i += 8)
            {
                var h = Vector512.ShiftRightLogical(Vector512.Create(a.AsSpan(i, 8)) * x + Vector512.Create(b.AsSpan(i, 8)), 32);
                Vector512.Min(Vector512.Create((ReadOnlySpan<ulong>)minima.Slice(i, 8)), h).CopyTo(minima.Slice(i, 8));
            }
        }
        else if (vectorized && Vector256.IsHardwareAccelerated)
        {
            var x = Vector256.Create(shingle);
            for (; i + 4 <= minima.Length; i += 4)
            {
                var h = Vector256.ShiftRightLogical(Vector256.Create(a.AsSpan(i, 4)) * x + Vector256.Create(b.AsSpan(i, 4)), 32);
                Vector256.Min(Vector256.Create((ReadOnlySpan<ulong>)minima.Slice(i, 4)), h).CopyTo(minima.Slice(i, 4));
            }
        }
        for (; i < minima.Length; i++)
        {
            ulong h = (a[i] * shingle + b[i]) >> 32;
            if (h < minima[i]) minima[i] = h;
        }
    }

    // Case-folded hashes of the words (letter/digit runs) of a text, one at a time.
    ref struct WordHashes(ReadOnlySpan<char> text)
    {
        readonly ReadOnlySpan<char> text = text;
        int position;

        public bool Next(out ulong hash)
        {
            int i = position;
            while (i < text.Length && !char.IsLetterOrDigit(text[i])) i++;
            if (i >= text.Length) { position = i; hash = 0; return false; }
            ulong h = 14695981039346656037UL;
            while (i < text.Length && char.IsLetterOrDigit(text[i])) { h = (h ^ char.ToLowerInvariant(text[i])) * 1099511628211UL; i++; }
            position = i;
            hash = Hash64.Mix(h);
            return true;
        }
    }
}
