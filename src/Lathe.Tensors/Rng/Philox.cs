namespace Lathe.Tensors;

/// <summary>A counter-based generator (Philox-4×32-10, Salmon et al., "Parallel random numbers: as easy as
/// 1, 2, 3", SC 2011): output block i is a keyed bijection of the counter i, so any stream position can be
/// reached at once and the whole state is (key, counter) — two numbers to save in a checkpoint.</summary>
public sealed class Philox
{
    const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    ulong _key;
    ulong _counter;
    uint _b0, _b1, _b2, _b3;
    int _used = 4;

    public Philox(ulong seed, ulong counter = 0) { _key = seed; _counter = counter; }

    /// <summary>Starts the stream of <paramref name="seed"/> from its beginning, as a new generator would (no allocation).</summary>
    public void Restart(ulong seed) { _key = seed; _counter = 0; _used = 4; }

    /// <summary>The state to save: the seed and the number of 128-bit blocks drawn, with the position inside the block.</summary>
    public (ulong Seed, ulong Counter, int Used) State => (_key, _counter, _used);

    /// <summary>Restores a state from <see cref="State"/>.</summary>
    public static Philox FromState(ulong seed, ulong counter, int used)
    {
        if (used is < 0 or > 4) throw new ArgumentException($"Philox: position {used} in block must be 0..4.");
        var r = new Philox(seed, used == 4 ? counter : counter - 1);
        if (used < 4) { r.Refill(); r._used = used; }
        return r;
    }

    /// <summary>The 128-bit block for counter <paramref name="counter"/> under key <paramref name="key"/>.</summary>
    public static void Block(ulong key, ulong counter, out uint r0, out uint r1, out uint r2, out uint r3) =>
        Block((uint)counter, (uint)(counter >> 32), 0, 0, (uint)key, (uint)(key >> 32), out r0, out r1, out r2, out r3);

    /// <summary>Philox-4×32-10 on a full 128-bit counter and 64-bit key (the form of the published known answers).</summary>
    internal static void Block(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1, out uint r0, out uint r1, out uint r2, out uint r3)
    {
        for (int round = 0; round < 10; round++)
        {
            ulong p0 = (ulong)M0 * c0, p1 = (ulong)M1 * c2;
            uint n0 = (uint)(p1 >> 32) ^ c1 ^ k0, n1 = (uint)p1, n2 = (uint)(p0 >> 32) ^ c3 ^ k1, n3 = (uint)p0;
            c0 = n0; c1 = n1; c2 = n2; c3 = n3;
            k0 += W0; k1 += W1;
        }
        r0 = c0; r1 = c1; r2 = c2; r3 = c3;
    }

    void Refill()
    {
        Block(_key, _counter++, out _b0, out _b1, out _b2, out _b3);
        _used = 0;
    }

    public uint NextUInt()
    {
        if (_used == 4) Refill();
        return _used++ switch { 0 => _b0, 1 => _b1, 2 => _b2, _ => _b3 };
    }

    /// <summary>Uniform in [0, 1) with 24 random bits.</summary>
    public float NextFloat() => (NextUInt() >> 8) * (1f / (1 << 24));

    /// <summary>Standard normal by Box–Muller (one value per call; uses two uniforms).</summary>
    public float NextNormal()
    {
        double u1 = ((NextUInt() >> 8) + 1) * (1.0 / ((1 << 24) + 1)), u2 = (NextUInt() >> 8) * (1.0 / (1 << 24));
        return (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
    }

    /// <summary>Fills with N(mean, std²).</summary>
    public void FillNormal(Span<float> values, float mean = 0, float std = 1)
    {
        for (int i = 0; i < values.Length; i++) values[i] = mean + std * NextNormal();
    }

    /// <summary>Fills with U[lo, hi).</summary>
    public void FillUniform(Span<float> values, float lo, float hi)
    {
        for (int i = 0; i < values.Length; i++) values[i] = lo + (hi - lo) * NextFloat();
    }

    /// <summary>An integer in [0, n), unbiased (Lemire's multiply-and-reject).</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), n, "n must be positive.");
        ulong m = (ulong)NextUInt() * (uint)n;
        if ((uint)m < (uint)n)
        {
            uint threshold = (uint)(-n) % (uint)n;
            while ((uint)m < threshold) m = (ulong)NextUInt() * (uint)n;
        }
        return (int)(m >> 32);
    }
}
