namespace Lathe.Tensors.Kernels;

/// <summary>The dropout mask on attention probabilities, drawn statelessly so the backward regenerates it instead of
/// saving it, and any thread order gives the same mask. For (seed, b, h, query t, key s): one Philox-4×32-10 block with
/// key = seed and 128-bit counter (⌊s/4⌋, t, h, b) gives four 32-bit words; word s mod 4 is key s's draw r, the
/// uniform u = (r ≫ 8)·2⁻²⁴ ∈ [0, 1), and the key is kept iff u ≥ p. The mask value is Z = 1/(1 − p) when kept, else 0.
/// (b, h, t) index the query's batch, query head and row in the call (not a position in a KV cache).</summary>
internal static unsafe class AttentionDropout
{
    /// <summary>Z for one (b, h, t, s): the slow obvious form the kernel's row fill must match.</summary>
    public static float Mask(ulong seed, float p, int b, int h, int t, int s)
    {
        Philox.Block((uint)(s >> 2), (uint)t, (uint)h, (uint)b, (uint)seed, (uint)(seed >> 32), out uint r0, out uint r1, out uint r2, out uint r3);
        uint r = (s & 3) switch { 0 => r0, 1 => r1, 2 => r2, _ => r3 };
        return (r >> 8) * (1f / (1 << 24)) >= p ? 1f / (1f - p) : 0f;
    }

    /// <summary>z[j] = Z(b, h, t, s0 + j) for j &lt; cols; s0 a multiple of 4. One Philox block per four keys.</summary>
    public static void Row(ulong seed, float p, int b, int h, int t, int s0, int cols, float* z)
    {
        // Keep iff (r ≫ 8) ≥ ⌈p·2²⁴⌉: the same test as Mask's u ≥ p, in integers (u·2²⁴ is an integer, exact in float).
        uint threshold = (uint)MathF.Ceiling(p * (1 << 24));
        float keep = 1f / (1f - p);
        uint k0 = (uint)seed, k1 = (uint)(seed >> 32);
        for (int j = 0; j < cols; j += 4)
        {
            Philox.Block((uint)((s0 + j) >> 2), (uint)t, (uint)h, (uint)b, k0, k1, out uint r0, out uint r1, out uint r2, out uint r3);
            z[j] = (r0 >> 8) >= threshold ? keep : 0f;
            if (j + 1 < cols) z[j + 1] = (r1 >> 8) >= threshold ? keep : 0f;
            if (j + 2 < cols) z[j + 2] = (r2 >> 8) >= threshold ? keep : 0f;
            if (j + 3 < cols) z[j + 3] = (r3 >> 8) >= threshold ? keep : 0f;
        }
    }
}
