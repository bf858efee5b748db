namespace Lathe.Inference.Constraints;

/// <summary>A set of byte values (256 bits): the terminal of a byte grammar.</summary>
internal readonly struct ByteSet : IEquatable<ByteSet>
{
    readonly ulong _w0, _w1, _w2, _w3;

    ByteSet(ulong w0, ulong w1, ulong w2, ulong w3) { _w0 = w0; _w1 = w1; _w2 = w2; _w3 = w3; }

    public static ByteSet Empty => default;
    public static ByteSet All => new(ulong.MaxValue, ulong.MaxValue, ulong.MaxValue, ulong.MaxValue);

    public static ByteSet Of(byte b) => Range(b, b);

    /// <summary>The bytes <paramref name="lo"/>..<paramref name="hi"/> inclusive.</summary>
    public static ByteSet Range(int lo, int hi)
    {
        ulong w0 = 0, w1 = 0, w2 = 0, w3 = 0;
        for (int b = lo; b <= hi; b++)
        {
            ulong bit = 1UL << (b & 63);
            switch (b >> 6) { case 0: w0 |= bit; break; case 1: w1 |= bit; break; case 2: w2 |= bit; break; default: w3 |= bit; break; }
        }
        return new(w0, w1, w2, w3);
    }

    /// <summary>The set of the bytes of an ASCII string, e.g. <c>Chars(" \t\n\r")</c>.</summary>
    public static ByteSet Chars(string ascii)
    {
        var set = Empty;
        foreach (char c in ascii) set |= Of((byte)c);
        return set;
    }

    public bool Contains(byte b) => ((b >> 6) switch { 0 => _w0, 1 => _w1, 2 => _w2, _ => _w3 } >> (b & 63) & 1) != 0;

    /// <summary>Whether every byte of this set is in <paramref name="other"/>.</summary>
    public bool IsSubsetOf(ByteSet other) => (_w0 & ~other._w0 | _w1 & ~other._w1 | _w2 & ~other._w2 | _w3 & ~other._w3) == 0;

    public static ByteSet operator |(ByteSet a, ByteSet b) => new(a._w0 | b._w0, a._w1 | b._w1, a._w2 | b._w2, a._w3 | b._w3);
    public static ByteSet operator -(ByteSet a, ByteSet b) => new(a._w0 & ~b._w0, a._w1 & ~b._w1, a._w2 & ~b._w2, a._w3 & ~b._w3);

    public bool Equals(ByteSet other) => _w0 == other._w0 && _w1 == other._w1 && _w2 == other._w2 && _w3 == other._w3;
    public override bool Equals(object? obj) => obj is ByteSet other && Equals(other);
    public override int GetHashCode() => HashCode.Combine(_w0, _w1, _w2, _w3);
}
