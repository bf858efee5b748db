using Lathe.Tensors.Autograd;
using Lathe.Tensors.Kernels;

namespace Lathe.Tensors.Tests.Kernels;

/// <summary><see cref="PagedAttention"/> and <see cref="Ops.AttentionPaged"/> against the scalar attention twin
/// (<see cref="AttentionReference"/>, sums in double) run over each row's keys gathered into order: block sizes, GQA,
/// ragged lengths including 1 and block ± 1, shuffled block tables, a distance bias (ALiBi's table), prefix keys, query
/// heads split over tasks. fp32 dot products of length D and a softmax
/// over S keys stay within 1e-5 relative of the twin.</summary>
public unsafe class PagedAttentionTests
{
    // A pool of `blocks` blocks (Hkv, blocks, bs, D) with random contents, and per sequence a table of distinct blocks in
    // shuffled order: sequence i holds lengths[i] keys.
    static (float[] K, float[] V, int[][] Tables) Pool(int blocks, int Hkv, int bs, int D, int[] lengths, int seed)
    {
        var k = TestData.Uniform((long)blocks * Hkv * bs * D, seed);
        var v = TestData.Uniform(k.Length, seed + 1);
        var order = Enumerable.Range(0, blocks).ToArray();
        new Random(seed).Shuffle(order);
        var tables = new int[lengths.Length][];
        int next = 0;
        for (int i = 0; i < lengths.Length; i++)
        {
            tables[i] = new int[(lengths[i] + bs - 1) / bs];
            for (int j = 0; j < tables[i].Length; j++) tables[i][j] = order[next++];
        }
        return (k, v, tables);
    }

    // Keys 0..S−1 of one sequence, gathered to (Hkv, S, D).
    static float[] Gather(float[] pool, int[] table, int Hkv, int bs, int D, int S)
    {
        var result = new float[(long)Hkv * S * D];
        for (int h = 0; h < Hkv; h++)
            for (int s = 0; s < S; s++)
                Array.Copy(pool, (((long)h * (pool.Length / ((long)Hkv * bs * D)) + table[s / bs]) * bs + s % bs) * D, result, ((long)h * S + s) * D, D);
        return result;
    }

    // The twin's output (H, T, D) for T queries (H, T, D) that end a sequence of S keys, with ALiBi as an (H, T, S) bias.
    static float[] Reference(float[] q, float[] k, float[] v, int H, int Hkv, int T, int S, int D, float[]? slopes, int window = 0, float softCap = 0)
    {
        float[]? bias = null;
        if (slopes is not null)
        {
            bias = new float[(long)H * T * S];
            for (int h = 0; h < H; h++)
                for (int t = 0; t < T; t++)
                    for (int s = 0; s <= S - T + t; s++) bias[((long)h * T + t) * S + s] = -slopes[h] * (S - T + t - s);
        }
        var o = new float[(long)H * T * D];
        var p = new float[(long)H * T * S];
        fixed (float* pq = q, pk = k, pv = v, pb = bias, po = o, pp = p)
            AttentionReference.Forward(pq, pk, pv, pb, false, default, pp, po, 1, H, Hkv, T, S, D, 1f / MathF.Sqrt(D), causal: true, window: window, softCap: softCap);
        return o;
    }

    // ALiBi as a distance table (H, L): −m_h·d.
    static float[] DistanceTable(float[] slopes, int L)
    {
        var table = new float[slopes.Length * L];
        for (int h = 0; h < slopes.Length; h++)
            for (int d = 0; d < L; d++) table[h * L + d] = -slopes[h] * d;
        return table;
    }

    static void AssertClose(float expected, float actual, string what) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-5f * (1 + Math.Abs(expected)), $"{what}: {actual}, reference {expected}");

    [Theory]
    [InlineData(1, 1, 1, 1)]
    [InlineData(4, 8, 2, 17)]
    [InlineData(16, 4, 4, 64)]
    [InlineData(16, 6, 3, 8)]
    [InlineData(32, 8, 1, 64)]
    public void Decode_rows_match_the_reference(int bs, int H, int Hkv, int D)
    {
        foreach (bool alibi in new[] { false, true })
        {
            // Ragged lengths: 1, the block size and one either side, and a long one.
            int[] lengths = [1, Math.Max(bs - 1, 1), bs, bs + 1, 3 * bs + 5];
            int N = lengths.Length, blocks = lengths.Sum(l => (l + bs - 1) / bs) + 3;
            var (k, v, tables) = Pool(blocks, Hkv, bs, D, lengths, seed: bs + H + D);
            var q = TestData.Uniform((long)N * H * D, 7);
            float[]? slopes = alibi ? Enumerable.Range(0, H).Select(h => MathF.Pow(2, -8f * (h + 1) / H)).ToArray() : null;
            int L = lengths.Max();
            float[]? table = slopes is null ? null : DistanceTable(slopes, L);
            var flat = tables.SelectMany(t => t).ToArray();
            var start = new int[N];
            for (int r = 1; r < N; r++) start[r] = start[r - 1] + tables[r - 1].Length;
            var o = new float[q.Length];
            fixed (float* pq = q, pk = k, pv = v, po = o, pb = table)
            fixed (int* pt = flat, pst = start, pvis = lengths)
                PagedAttention.Forward(pq, H * D, pk, pv, po, H * D, pt, pst, pvis, N, H, Hkv, D, bs, blocks, 1f / MathF.Sqrt(D), pb, alibi ? L : 0);
            for (int r = 0; r < N; r++)
            {
                var expected = Reference(q.AsSpan(r * H * D, H * D).ToArray(), Gather(k, tables[r], Hkv, bs, D, lengths[r]),
                    Gather(v, tables[r], Hkv, bs, D, lengths[r]), H, Hkv, 1, lengths[r], D, slopes);
                for (int i = 0; i < H * D; i++) AssertClose(expected[i], o[r * H * D + i], $"bs {bs} alibi {alibi} row {r} (S={lengths[r]}) [{i}]");
            }
        }
    }

    [Theory]
    [InlineData(8, 1, 64)]
    [InlineData(6, 1, 20)]
    [InlineData(8, 2, 32)]
    public void One_long_sequence_splits_its_query_heads_over_tasks(int H, int Hkv, int D)
    {
        // One decode row over 300 keys: too few (row, kv head) tasks for the threads, so each kv head's query heads are
        // split over several tasks (groups of 2 or 3 heads, the last one shorter when G does not divide evenly).
        const int bs = 16, S = 300;
        int blocks = (S + bs - 1) / bs + 2;
        var (k, v, tables) = Pool(blocks, Hkv, bs, D, [S], seed: H + D);
        var q = TestData.Uniform((long)H * D, 9);
        var o = new float[H * D];
        fixed (float* pq = q, pk = k, pv = v, po = o)
        fixed (int* pt = tables[0], pvis = new[] { S })
        {
            int zero = 0;
            PagedAttention.Forward(pq, H * D, pk, pv, po, H * D, pt, &zero, pvis, 1, H, Hkv, D, bs, blocks, 1f / MathF.Sqrt(D));
        }
        var expected = Reference(q, Gather(k, tables[0], Hkv, bs, D, S), Gather(v, tables[0], Hkv, bs, D, S), H, Hkv, 1, S, D, null);
        for (int i = 0; i < H * D; i++) AssertClose(expected[i], o[i], $"H {H} Hkv {Hkv} D {D} [{i}]");
    }

    [Fact]
    public void A_step_mixing_prompt_chunks_and_decode_rows_matches_the_reference()
    {
        // Four sequences in one step: a decode row, a prompt chunk of 5 after 12 cached keys, two decode rows, a chunk
        // of 3 from the start. q is read as a column view of a wider (fused) projection. Plain, with ALiBi's distance
        // table, and with 3 prefix keys and values (prefix tuning) every row sees first.
        const int bs = 4, H = 4, Hkv = 2, D = 8;
        int[] counts = [1, 5, 1, 3], lengths = [9, 17, 4, 3];   // keys after the step
        int N = counts.Sum(), C = H * D, wide = C + 2 * Hkv * D;
        int blocks = lengths.Sum(l => (l + bs - 1) / bs);
        var (k, v, tables) = Pool(blocks, Hkv, bs, D, lengths, seed: 3);
        var all = TestData.Uniform((long)N * wide, 11);
        const int P = 3;
        var prefixK = TestData.Uniform(Hkv * P * D, 21);
        var prefixV = TestData.Uniform(Hkv * P * D, 22);
        foreach (string variant in new[] { "plain", "alibi", "prefix" })
        {
            bool alibi = variant == "alibi", prefix = variant == "prefix";
            float[] slopes = alibi ? [0.5f, 0.25f, 0.125f, 0.0625f] : [];
            var flat = tables.SelectMany(t => t).ToArray();
            var segmentStarts = new int[counts.Length + 1];
            var rowStart = new int[N];
            var rowVisible = new int[N];
            int row = 0, table = 0;
            for (int i = 0; i < counts.Length; i++)
            {
                segmentStarts[i] = row;
                for (int t = 0; t < counts[i]; t++, row++) { rowStart[row] = table; rowVisible[row] = lengths[i] - counts[i] + t + 1; }
                table += tables[i].Length;
            }
            segmentStarts[^1] = N;
            using var tape = new Tape();
            using var active = tape.Activate();
            using var noGrad = Tape.NoGrad();
            using var packed = Tensor.FromArray(all, N, wide);
            using var kPool = Tensor.FromArray(k, Hkv, blocks, bs, D);
            using var vPool = Tensor.FromArray(v, Hkv, blocks, bs, D);
            using var bias = alibi ? Tensor.FromArray(DistanceTable(slopes, 20), H, 20) : null;
            using var pk = prefix ? Tensor.FromArray(prefixK, Hkv, P, D) : null;
            using var pv = prefix ? Tensor.FromArray(prefixV, Hkv, P, D) : null;
            var y = Ops.AttentionPaged(Ops.Narrow(packed, 1, 0, C), kPool, vPool, H, flat, rowStart, rowVisible, segmentStarts, bias,
                prefixKeys: pk, prefixValues: pv).ToArray();
            row = 0;
            for (int i = 0; i < counts.Length; i++)
            {
                int T = counts[i];
                // The segment's queries as (H, T, D).
                var q = new float[H * T * D];
                for (int t = 0; t < T; t++)
                    for (int h = 0; h < H; h++) Array.Copy(all, (long)(row + t) * wide + h * D, q, ((long)h * T + t) * D, D);
                float[] keys = Gather(k, tables[i], Hkv, bs, D, lengths[i]), values = Gather(v, tables[i], Hkv, bs, D, lengths[i]);
                int S = lengths[i];
                if (prefix)   // the twin sees the prefix as P more keys before the sequence's: causal with the offset
                {
                    (keys, values, S) = (Prepend(prefixK, keys, Hkv, P, S, D), Prepend(prefixV, values, Hkv, P, S, D), S + P);
                }
                var expected = Reference(q, keys, values, H, Hkv, T, S, D, alibi ? slopes : null);
                for (int t = 0; t < T; t++)
                    for (int h = 0; h < H; h++)
                        for (int d = 0; d < D; d++)
                            AssertClose(expected[((long)h * T + t) * D + d], y[(row + t) * C + h * D + d], $"{variant} sequence {i} row {t} head {h} [{d}]");
                row += T;
            }
        }
    }

    // (Hkv,P,D) before (Hkv,S,D) → (Hkv,P+S,D).
    static float[] Prepend(float[] prefix, float[] keys, int Hkv, int P, int S, int D)
    {
        var result = new float[Hkv * (P + S) * D];
        for (int h = 0; h < Hkv; h++)
        {
            Array.Copy(prefix, h * P * D, result, h * (P + S) * D, P * D);
            Array.Copy(keys, h * S * D, result, (h * (P + S) + P) * D, S * D);
        }
        return result;
    }

    /// <summary>Sliding windows (Mistral, Gemma 2's local layers) and attention-logit soft-capping (Gemma 2) on the decode
    /// kernel and on the prompt-chunk path: windows shorter than a block, across block boundaries, and longer than every
    /// sequence (no effect); a soft cap small enough to bite (scaled scores here reach ±3, the cap is 0.5), with ALiBi's
    /// bias added after the cap as llama.cpp adds kq_b after its tanh.</summary>
    [Theory]
    [InlineData(3, 0f)]
    [InlineData(6, 0.5f)]
    [InlineData(0, 0.5f)]
    [InlineData(100, 0f)]
    public void Windowed_and_soft_capped_steps_match_the_reference(int window, float softCap)
    {
        const int bs = 4, H = 4, Hkv = 2, D = 8;
        int[] counts = [1, 5, 1, 7], lengths = [9, 17, 2, 7];   // keys after the step
        int N = counts.Sum(), C = H * D;
        int blocks = lengths.Sum(l => (l + bs - 1) / bs);
        var (k, v, tables) = Pool(blocks, Hkv, bs, D, lengths, seed: 5);
        var all = TestData.Uniform((long)N * C, 13);
        for (int i = 0; i < all.Length; i++) all[i] *= 8;   // scores of a few units, so a cap of 0.5 bites
        foreach (bool alibi in new[] { false, true })
        {
            float[] slopes = alibi ? [0.5f, 0.25f, 0.125f, 0.0625f] : [];
            var flat = tables.SelectMany(t => t).ToArray();
            var segmentStarts = new int[counts.Length + 1];
            var rowStart = new int[N];
            var rowVisible = new int[N];
            int row = 0, table = 0;
            for (int i = 0; i < counts.Length; i++)
            {
                segmentStarts[i] = row;
                for (int t = 0; t < counts[i]; t++, row++) { rowStart[row] = table; rowVisible[row] = lengths[i] - counts[i] + t + 1; }
                table += tables[i].Length;
            }
            segmentStarts[^1] = N;
            using var tape = new Tape();
            using var active = tape.Activate();
            using var noGrad = Tape.NoGrad();
            using var q = Tensor.FromArray(all, N, C);
            using var kPool = Tensor.FromArray(k, Hkv, blocks, bs, D);
            using var vPool = Tensor.FromArray(v, Hkv, blocks, bs, D);
            using var bias = alibi ? Tensor.FromArray(DistanceTable(slopes, 20), H, 20) : null;
            var y = Ops.AttentionPaged(q, kPool, vPool, H, flat, rowStart, rowVisible, segmentStarts, bias, window: window, softCap: softCap).ToArray();
            row = 0;
            for (int i = 0; i < counts.Length; i++)
            {
                int T = counts[i], S = lengths[i];
                var qh = new float[H * T * D];
                for (int t = 0; t < T; t++)
                    for (int h = 0; h < H; h++) Array.Copy(all, (long)(row + t) * C + h * D, qh, ((long)h * T + t) * D, D);
                var expected = Reference(qh, Gather(k, tables[i], Hkv, bs, D, S), Gather(v, tables[i], Hkv, bs, D, S), H, Hkv, T, S, D,
                    alibi ? slopes : null, window, softCap);
                for (int t = 0; t < T; t++)
                    for (int h = 0; h < H; h++)
                        for (int d = 0; d < D; d++)
                            AssertClose(expected[((long)h * T + t) * D + d], y[(row + t) * C + h * D + d], $"window {window} cap {softCap} alibi {alibi} sequence {i} row {t} head {h} [{d}]");
                row += T;
            }
        }
    }

    /// <summary>The window and the cap change the answer (so the test above is not passing on a no-op): a window of 3 over
    /// 17 keys, and a cap of 0.5, each move the output away from plain attention's.</summary>
    [Fact]
    public void Window_and_soft_cap_change_the_output()
    {
        const int bs = 4, H = 2, Hkv = 1, D = 8, S = 17;
        var (k, v, tables) = Pool(5, Hkv, bs, D, [S], seed: 8);
        var q = TestData.Uniform(H * D, 3);
        for (int i = 0; i < q.Length; i++) q[i] *= 8;
        using var tape = new Tape();
        using var active = tape.Activate();
        using var noGrad = Tape.NoGrad();
        using var qt = Tensor.FromArray(q, 1, H * D);
        using var kPool = Tensor.FromArray(k, Hkv, 5, bs, D);
        using var vPool = Tensor.FromArray(v, Hkv, 5, bs, D);
        float[] Run(int window, float cap) => Ops.AttentionPaged(qt, kPool, vPool, H, tables[0], [0], [S], [0, 1], window: window, softCap: cap).ToArray();
        float[] plain = Run(0, 0), windowed = Run(3, 0), capped = Run(0, 0.5f);
        Assert.True(plain.Zip(windowed).Max(p => Math.Abs(p.First - p.Second)) > 1e-2, "a window of 3 changed nothing");
        Assert.True(plain.Zip(capped).Max(p => Math.Abs(p.First - p.Second)) > 1e-2, "a soft cap of 0.5 changed nothing");
        var e = Assert.Throws<ArgumentException>(() => Run(-1, 0));
        Assert.Contains("window -1", e.Message);
        e = Assert.Throws<ArgumentException>(() => Run(0, float.NaN));
        Assert.Contains("soft cap", e.Message);
    }

    [Fact]
    public void Bad_layouts_are_clear_errors()
    {
        using var tape = new Tape();
        using var active = tape.Activate();
        using var noGrad = Tape.NoGrad();
        using var q = Tensor.Zeros(2, 8);
        using var pool = Tensor.Zeros(1, 2, 4, 8);
        // Row 1 sees 5 keys (two blocks) but its table has one entry left.
        var e = Assert.Throws<ArgumentException>(() => Ops.AttentionPaged(q, pool, pool, 1, [0, 1], [0, 1], [4, 5], [0, 1, 2]));
        Assert.Contains("row 1", e.Message);
        e = Assert.Throws<ArgumentException>(() => Ops.AttentionPaged(q, pool, pool, 1, [0, 7], [0, 0], [4, 5], [0, 1, 2]));
        Assert.Contains("outside the pool", e.Message);
    }
}
