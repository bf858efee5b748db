namespace Lathe.Tensors;

// Decoding-side attention over a paged KV cache (Kernels/PagedAttention): the query rows of one step belong to several
// sequences at different positions, so positions come per row and keys are read through block tables.
public static unsafe partial class Ops
{
    /// <summary>Attention of the N query rows of one decoding step over their sequences' cached keys and values in
    /// <paramref name="kPool"/>, <paramref name="vPool"/> (Hkv, blocks, blockSize, D). <paramref name="q"/> is (N, ≥H·D)
    /// with head h of row r at columns h·D..h·D+D−1 (a narrowed view of a fused projection is read in place).
    /// The rows form segments (<paramref name="segmentStarts"/>: S+1 row boundaries), one per sequence, in position
    /// order; row r sees keys 0..<paramref name="rowVisible"/>[r]−1 (its own position included) through the block table
    /// at <paramref name="rowTableStart"/>[r] in <paramref name="tables"/>. A one-row segment (a decode token) runs the
    /// paged kernel; a longer one (a prompt chunk) gathers its sequence's keys and runs the blocked flash kernel, which
    /// is faster for many queries. <paramref name="positionBias"/> (H, L), when given, adds positionBias[h, d] to the
    /// score of a key d positions before the query (ALiBi's −m_h·d, T5's relative buckets); L must exceed every
    /// row's distance. <paramref name="scale"/> defaults to 1/√D (T5 uses 1). <paramref name="prefixKeys"/>,
    /// <paramref name="prefixValues"/> (Hkv, P, D) are P keys and values every row sees before its sequence's (prefix
    /// tuning; not with a position bias). <paramref name="window"/> &gt; 0: row r sees only its last
    /// <paramref name="window"/> keys (a sliding window: Mistral, Gemma 2's local layers; not with a prefix).
    /// <paramref name="softCap"/> &gt; 0: each scaled score x becomes softCap·tanh(x / softCap) (Gemma 2).
    /// Returns (N, H·D). Decoding only: no gradient flows.</summary>
    public static Tensor AttentionPaged(Tensor q, Tensor kPool, Tensor vPool, int heads, ReadOnlySpan<int> tables,
        ReadOnlySpan<int> rowTableStart, ReadOnlySpan<int> rowVisible, ReadOnlySpan<int> segmentStarts, Tensor? positionBias = null, float? scale = null,
        Tensor? prefixKeys = null, Tensor? prefixValues = null, int window = 0, float softCap = 0)
    {
        if (Autograd.Tape.IsRecording && q.NeedsGrad)
            throw new InvalidOperationException("AttentionPaged: decoding only — call it under Tape.NoGrad().");
        if (kPool.Rank != 4 || !kPool.Shape.SequenceEqual(vPool.Shape) || !kPool.IsContiguous || !vPool.IsContiguous)
            throw new ArgumentException($"AttentionPaged: pools {Tensor.ShapeString(kPool.Shape)} / {Tensor.ShapeString(vPool.Shape)} must be (Hkv, blocks, block size, D), equal and contiguous.");
        int Hkv = kPool.Shape[0], blocks = kPool.Shape[1], blockSize = kPool.Shape[2], D = kPool.Shape[3], N = q.Rank == 2 ? q.Shape[0] : -1;
        if (q.Rank != 2 || q.Strides[1] != 1 || q.Shape[1] != heads * D || heads % Hkv != 0 || (N > 1 && q.Strides[0] < heads * D))
            throw new ArgumentException($"AttentionPaged: q {Tensor.ShapeString(q.Shape)} must be (N, {heads}·{D}) rows with unit column stride; {heads} heads over {Hkv} kv heads.");
        if (rowTableStart.Length != N || rowVisible.Length != N || segmentStarts.Length < 1 || segmentStarts[0] != 0 || segmentStarts[^1] != N)
            throw new ArgumentException($"AttentionPaged: {rowTableStart.Length} table starts, {rowVisible.Length} visible counts and segments ending at {(segmentStarts.Length > 0 ? segmentStarts[^1] : -1)} for {N} rows.");
        if (positionBias is not null && (positionBias.Rank != 2 || positionBias.Shape[0] != heads || !positionBias.IsContiguous))
            throw new ArgumentException($"AttentionPaged: position bias {Tensor.ShapeString(positionBias.Shape)} must be ({heads}, distances), contiguous.");
        int biasStride = positionBias?.Shape[1] ?? 0, P = 0;
        if (prefixKeys is not null || prefixValues is not null)
        {
            if (prefixKeys is null || prefixValues is null || prefixKeys.Rank != 3 || !prefixKeys.Shape.SequenceEqual(prefixValues.Shape)
                || prefixKeys.Shape[0] != Hkv || prefixKeys.Shape[2] != D)
                throw new ArgumentException($"AttentionPaged: prefix keys {(prefixKeys is null ? "none" : Tensor.ShapeString(prefixKeys.Shape))} and values {(prefixValues is null ? "none" : Tensor.ShapeString(prefixValues.Shape))} must both be ({Hkv}, P, {D}).");
            if (positionBias is not null) throw new ArgumentException("AttentionPaged: a prefix and a position bias together are not supported (the prefix has no position).");
            P = prefixKeys.Shape[1];
        }
        if (window < 0 || (window > 0 && P > 0))
            throw new ArgumentException($"AttentionPaged: window {window} must be ≥ 0, and 0 with a prefix (a prefix row has no position).");
        if (!(softCap >= 0) || float.IsInfinity(softCap)) throw new ArgumentException($"AttentionPaged: soft cap {softCap} must be finite and ≥ 0.");
        var pk = P > 0 ? Contiguous(prefixKeys!) : null;
        var pv = P > 0 ? Contiguous(prefixValues!) : null;
        float* prefixK = pk is null ? null : pk.Data, prefixV = pv is null ? null : pv.Data;
        for (int r = 0; r < N; r++)
        {
            int blocksNeeded = (rowVisible[r] + blockSize - 1) / blockSize;
            if (rowVisible[r] <= 0 || rowTableStart[r] < 0 || rowTableStart[r] + blocksNeeded > tables.Length || (positionBias is not null && rowVisible[r] > biasStride))
                throw new ArgumentException($"AttentionPaged: row {r} sees {rowVisible[r]} keys through a table at {rowTableStart[r]} of {tables.Length} entries.");
            for (int i = 0; i < blocksNeeded; i++)
                if ((uint)tables[rowTableStart[r] + i] >= (uint)blocks)
                    throw new ArgumentException($"AttentionPaged: row {r}'s block {tables[rowTableStart[r] + i]} is outside the pool of {blocks}.");
        }
        int qRow = N > 1 ? q.Strides[0] : heads * D, C = heads * D;
        float sc = scale ?? 1f / MathF.Sqrt(D);
        var y = Autograd.Tape.NewResult([N, C]);
        fixed (int* pTables = tables, pStart = rowTableStart, pVisible = rowVisible)
        {
            // Consecutive one-token segments (decode rows) go to the paged kernel in one call; they never wait on each other.
            float* bias = positionBias is null ? null : positionBias.Data;
            int runStart = -1;
            for (int s = 0; s + 1 < segmentStarts.Length; s++)
            {
                int start = segmentStarts[s], count = segmentStarts[s + 1] - start;
                if (count <= 0) throw new ArgumentException($"AttentionPaged: segment {s} has {count} rows.");
                if (count == 1) { if (runStart < 0) runStart = start; continue; }
                if (runStart >= 0) DecodeRows(q, qRow, kPool, vPool, y, pTables, pStart, pVisible, runStart, start - runStart, heads, Hkv, D, blockSize, sc, bias, biasStride, prefixK, prefixV, P, window, softCap);
                runStart = -1;
                PromptSegment(q.Data + (long)start * qRow, qRow, kPool, vPool, y.Data + (long)start * C, C, pTables + pStart[start + count - 1],
                    pVisible[start + count - 1], count, heads, Hkv, D, blockSize, sc, bias, biasStride, prefixK, prefixV, P, window, softCap);
            }
            if (runStart >= 0) DecodeRows(q, qRow, kPool, vPool, y, pTables, pStart, pVisible, runStart, N - runStart, heads, Hkv, D, blockSize, sc, bias, biasStride, prefixK, prefixV, P, window, softCap);
        }
        return y;
    }

    static void DecodeRows(Tensor q, int qRow, Tensor kPool, Tensor vPool, Tensor y, int* tables, int* tableStart, int* visible,
        int first, int count, int H, int Hkv, int D, int blockSize, float scale, float* bias, int biasStride, float* prefixK, float* prefixV, int P,
        int window, float softCap) =>
        Kernels.PagedAttention.Forward(q.Data + (long)first * qRow, qRow, kPool.Data, vPool.Data, y.Data + (long)first * H * D, H * D,
            tables, tableStart + first, visible + first, count, H, Hkv, D, blockSize, kPool.Shape[1], scale, bias, biasStride, prefixK, prefixV, P, window, softCap);

    // A prompt chunk of T rows whose last row sees S keys: gather the S keys and values into (Hkv,S,D) order, then
    // causal flash attention with the queries read in place (token-major) and the output written token-major.
    static void PromptSegment(float* q, int qRow, Tensor kPool, Tensor vPool, float* o, int oRow, int* table, int S, int T,
        int H, int Hkv, int D, int blockSize, float scale, float* positionBias, int biasStride, float* prefixK, float* prefixV, int P,
        int window, float softCap)
    {
        // The prefix keys (if any) come first: then causal flash over P + S keys lets query t see all of them.
        var k = Autograd.Tape.NewResult([Hkv, P + S, D]);
        var v = Autograd.Tape.NewResult([Hkv, P + S, D]);
        long blockFloats = (long)blockSize * D, headFloats = (long)kPool.Shape[1] * blockFloats;
        for (int h = 0; h < Hkv; h++)
        {
            long at = (long)h * (P + S) * D;
            new ReadOnlySpan<float>(prefixK + (long)h * P * D, P * D).CopyTo(new Span<float>(k.Data + at, P * D));
            new ReadOnlySpan<float>(prefixV + (long)h * P * D, P * D).CopyTo(new Span<float>(v.Data + at, P * D));
            for (int s0 = 0; s0 < S; s0 += blockSize)
            {
                int n = Math.Min(blockSize, S - s0);
                long src = h * headFloats + table[s0 / blockSize] * blockFloats, dst = at + ((long)P + s0) * D;
                new ReadOnlySpan<float>(kPool.Data + src, n * D).CopyTo(new Span<float>(k.Data + dst, n * D));
                new ReadOnlySpan<float>(vPool.Data + src, n * D).CopyTo(new Span<float>(v.Data + dst, n * D));
            }
        }
        S += P;
        var lse = Autograd.Tape.NewResult([H, T]);
        Tensor? bias = null;
        if (positionBias != null)
        {
            // (H,T,S): the bias of distance query − s for keys at or before the query; later keys are masked anyway.
            bias = Autograd.Tape.NewResult([H, T, S]);
            for (int h = 0; h < H; h++)
                for (int t = 0; t < T; t++)
                {
                    int query = S - T + t;
                    float* row = bias.Data + ((long)h * T + t) * S, distances = positionBias + (long)h * biasStride;
                    for (int s = 0; s < S; s++) row[s] = s <= query ? distances[query - s] : 0f;
                }
        }
        var problem = new Kernels.AttentionProblem
        {
            Q = q, K = k.Data, V = v.Data, O = o, L = lse.Data, Bias = bias is null ? null : bias.Data,
            B = 1, H = H, T = T, D = D, Hkv = Hkv, S = S, Scale = scale, Causal = true, Window = window, SoftCap = softCap,
            QBatch = (long)T * qRow, QHead = D, QRow = qRow, OBatch = (long)T * oRow, OHead = D, ORow = oRow,
            KBatch = (long)Hkv * S * D, KHead = (long)S * D, KRow = D,
        };
        Kernels.FlashAttention.Forward(ref problem);
    }

    /// <summary>Rotary positions for rows at arbitrary positions: row r of <paramref name="x"/> (N, n·D) holds n heads
    /// token-major and sits at <paramref name="positions"/>[r]; its first <paramref name="rotatedHeads"/> heads turn
    /// (the rotation of <see cref="RopeTokenMajor"/>, value for value), the rest are copied. Returns (N, n·D).
    /// Decoding only: no gradient flows.</summary>
    public static Tensor RopeAtPositions(Tensor x, RopeTables tables, ReadOnlySpan<int> positions, int rotatedHeads)
    {
        if (Autograd.Tape.IsRecording && x.NeedsGrad)
            throw new InvalidOperationException("RopeAtPositions: decoding only — call it under Tape.NoGrad().");
        int D = tables.HeadDim;
        if (x.Rank != 2 || x.Shape[1] % D != 0 || positions.Length != x.Shape[0] || rotatedHeads < 0 || rotatedHeads > x.Shape[1] / D)
            throw new ArgumentException($"RopeAtPositions: input {Tensor.ShapeString(x.Shape)} must be ({positions.Length}, heads·{D}) with {rotatedHeads} rotated heads at most.");
        var src = Contiguous(x);
        int N = x.Shape[0], width = x.Shape[1], heads = width / D;
        var y = Autograd.Tape.NewResult([N, width]);
        fixed (float* cos = tables.Cos, sin = tables.Sin)
            for (int r = 0; r < N; r++)
            {
                int position = positions[r];
                if ((uint)position >= (uint)tables.MaxPositions)
                    throw new ArgumentException($"RopeAtPositions: position {position} of row {r} exceeds the table of {tables.MaxPositions}.");
                float* xr = src.Data + (long)r * width, yr = y.Data + (long)r * width;
                for (int h = 0; h < heads; h++)
                    if (h < rotatedHeads) RotateHead(xr + h * D, yr + h * D, cos + (long)position * (D / 2), sin + (long)position * (D / 2), D / 2, inverse: false, accumulate: false);
                    else new ReadOnlySpan<float>(xr + h * D, D).CopyTo(new Span<float>(yr + h * D, D));
            }
        return y;
    }
}
