using Lathe.Tensors;

namespace Lathe.Cli.Fuzzing;

/// <summary>One way to damage a file: a name for the report and replay, and a function of the input and the case's
/// random stream. A mutator returns its input unchanged (the same array) when the input has nothing it can act on.</summary>
internal sealed record Mutator(string Name, Func<byte[], Philox, byte[]> Apply);

/// <summary>Small helpers over the repo's Philox stream, so every mutator draws from the case's seed alone.</summary>
internal static class FuzzRandom
{
    public static bool Chance(this Philox rng, int percent) => rng.NextInt(100) < percent;

    public static T Pick<T>(this Philox rng, IReadOnlyList<T> items) => items[rng.NextInt(items.Count)];

    public static ulong NextULong(this Philox rng) => (ulong)rng.NextUInt() << 32 | rng.NextUInt();

    /// <summary>A stream for case <paramref name="index"/> of a run seeded <paramref name="seed"/>: Philox's counter
    /// space is split per case (2^32 blocks each), so a case replays alone without drawing the ones before it.</summary>
    public static Philox ForCase(ulong seed, int index) => new(seed, (ulong)(uint)index << 32);

    /// <summary>The values that break readers most often: zero, all ones, the signed limits, sign bits, negative counts.</summary>
    public static readonly ulong[] Interesting64 =
    [
        0, 1, 0xFF, 0x7F, 0x80, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000,
        long.MaxValue, unchecked((ulong)long.MinValue), ulong.MaxValue, unchecked((ulong)-1L), unchecked((ulong)-2L), 1UL << 40,
    ];

    public static readonly byte[] InterestingBytes = [0, 0xFF, 0x7F, 0x80, 0x01, 0xFE];

    public static readonly uint[] Interesting32 = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0xFFFF_FFFE, 1 << 20];
}
