using System.Text;

namespace Lathe.Distributed;

/// <summary>A pending non-blocking collective. <see cref="Communicator.Test"/> or <see cref="Communicator.Wait"/>
/// completes it; a completed (or never started) request is <see cref="Done"/>.</summary>
public struct CommRequest
{
    internal nint Handle;
    public readonly bool Done => Handle == 0;
}

/// <summary>The processes of one job and the collectives between them: every rank calls the same collectives in the
/// same order. <see cref="SingleProcess"/> is the one-rank job (no MPI needed; every collective is a copy or
/// nothing); <see cref="MpiCommunicator"/> is the job mpirun launched.</summary>
/// <remarks>Sums of floats are the only reductions the trainer needs on large buffers; small values (losses, norms,
/// flags) go through <see cref="AllGather(double)"/> and are combined in rank order on every rank, so every rank
/// gets the same bits whatever algorithm the MPI library picks.</remarks>
public abstract unsafe class Communicator : IDisposable
{
    public abstract int Rank { get; }
    public abstract int Size { get; }
    /// <summary>Rank 0: the one that writes files and prints.</summary>
    public bool IsRoot => Rank == 0;

    public abstract void Barrier();
    /// <summary>In place: every rank's <paramref name="count"/> floats become the element-wise sum over ranks.</summary>
    public abstract void AllReduceSum(float* data, long count);
    /// <summary>The root's <paramref name="bytes"/> bytes are copied to every rank.</summary>
    public abstract void Broadcast(void* data, long bytes, int root);
    /// <summary>Every rank's <paramref name="bytes"/> bytes at <paramref name="mine"/> land at offset rank·bytes of
    /// <paramref name="all"/> on every rank. <paramref name="mine"/> null: in place (this rank's part is already there).</summary>
    public abstract void AllGather(void* mine, long bytes, void* all);
    /// <summary><paramref name="data"/> holds Size blocks of <paramref name="countEach"/> floats; this rank receives the
    /// element-wise sum over ranks of block <see cref="Rank"/> into <paramref name="mine"/>.</summary>
    public abstract void ReduceScatterSum(float* data, float* mine, long countEach);

    public abstract CommRequest StartBarrier();
    public abstract CommRequest StartAllReduceSum(float* data, long count);
    public abstract CommRequest StartBroadcast(void* data, long bytes, int root);
    public abstract CommRequest StartAllGather(void* mine, long bytes, void* all);
    public abstract CommRequest StartReduceScatterSum(float* data, float* mine, long countEach);
    /// <summary>Advances the request; true (and the request done) when it has completed.</summary>
    public abstract bool Test(ref CommRequest request);
    public abstract void Wait(ref CommRequest request);

    /// <summary>Ends every rank of the job with <paramref name="code"/> (a rank that cannot go on must not leave the
    /// others waiting in a collective).</summary>
    public abstract void Abort(int code);
    public virtual void Dispose() { }

    /// <summary>Each rank's <paramref name="value"/>, indexed by rank.</summary>
    public double[] AllGather(double value)
    {
        var all = new double[Size];
        fixed (double* a = all) AllGather(&value, sizeof(double), a);
        return all;
    }

    double[] _sumScratch = [];

    /// <summary>The sum over ranks of <paramref name="values"/> (element-wise), added in rank order on every rank.</summary>
    public void SumInRankOrder(Span<double> values)
    {
        if (Size == 1) return;
        if (_sumScratch.Length < Size * values.Length) _sumScratch = new double[Size * values.Length];   // reused: no garbage per step
        var all = _sumScratch;
        fixed (double* v = values) fixed (double* a = all) AllGather(v, (long)values.Length * sizeof(double), a);
        for (int i = 0; i < values.Length; i++)
        {
            double s = 0;
            for (int r = 0; r < Size; r++) s += all[r * values.Length + i];
            values[i] = s;
        }
    }

    /// <summary>The sum of every rank's indexed terms added in index order (each index held by one rank): the order one
    /// process that computed them all would add them in, so the sum has its bits.</summary>
    public double SumInIndexOrder(IReadOnlyList<(int Index, double Value)> mine)
    {
        var packed = new byte[mine.Count * 12];
        for (int i = 0; i < mine.Count; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(packed.AsSpan(12 * i), mine[i].Index);
            System.Buffers.Binary.BinaryPrimitives.WriteDoubleLittleEndian(packed.AsSpan(12 * i + 4), mine[i].Value);
        }
        var all = new SortedDictionary<int, double>();
        foreach (var part in AllGatherBytes(packed))
            for (int i = 0; i + 12 <= part.Length; i += 12)
                all[System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(part.AsSpan(i))] = System.Buffers.Binary.BinaryPrimitives.ReadDoubleLittleEndian(part.AsSpan(i + 4));
        double sum = 0;
        foreach (double v in all.Values) sum += v;
        return sum;
    }

    /// <summary>Each rank's bytes (any length), indexed by rank.</summary>
    public byte[][] AllGatherBytes(ReadOnlySpan<byte> mine)
    {
        var lengths = new long[Size];
        long own = mine.Length;
        fixed (long* l = lengths) AllGather(&own, sizeof(long), l);
        long width = lengths.Max();
        var all = new byte[width * Size];
        var padded = new byte[width];
        mine.CopyTo(padded);
        fixed (byte* p = padded) fixed (byte* a = all) AllGather(p, width, a);
        var result = new byte[Size][];
        for (int r = 0; r < Size; r++) result[r] = all.AsSpan((int)(r * width), (int)lengths[r]).ToArray();
        return result;
    }

    /// <summary>Checks that every rank holds the same <paramref name="fingerprint"/> of <paramref name="what"/> (the
    /// config, the options, the data): every rank throws the same <see cref="JobFenceException"/> (exit 2) naming the
    /// first rank that differs.</summary>
    public void CheckAgreement(string what, string fingerprint)
    {
        if (Size == 1) return;
        var all = AllGatherBytes(Encoding.UTF8.GetBytes(fingerprint));
        for (int r = 1; r < Size; r++)
            if (!all[r].AsSpan().SequenceEqual(all[0]))
                throw new JobFenceException($"mpi: ranks disagree on {what}: rank {r} has {Encoding.UTF8.GetString(all[r])}, rank 0 has {Encoding.UTF8.GetString(all[0])}", 2);
    }
}

/// <summary>The one-process job: rank 0 of 1. Collectives are copies (or nothing); requests complete at once.</summary>
public sealed unsafe class SingleProcess : Communicator
{
    public static readonly SingleProcess Instance = new();
    SingleProcess() { }
    public override int Rank => 0;
    public override int Size => 1;
    public override void Barrier() { }
    public override void AllReduceSum(float* data, long count) { }
    public override void Broadcast(void* data, long bytes, int root) { }
    public override void AllGather(void* mine, long bytes, void* all)
    {
        if (mine is not null && mine != all) Buffer.MemoryCopy(mine, all, bytes, bytes);
    }
    public override void ReduceScatterSum(float* data, float* mine, long countEach)
    {
        if (data != mine) Buffer.MemoryCopy(data, mine, countEach * sizeof(float), countEach * sizeof(float));
    }
    public override CommRequest StartBarrier() => default;
    public override CommRequest StartAllReduceSum(float* data, long count) => default;
    public override CommRequest StartBroadcast(void* data, long bytes, int root) => default;
    public override CommRequest StartAllGather(void* mine, long bytes, void* all) { AllGather(mine, bytes, all); return default; }
    public override CommRequest StartReduceScatterSum(float* data, float* mine, long countEach) { ReduceScatterSum(data, mine, countEach); return default; }
    public override bool Test(ref CommRequest request) => true;
    public override void Wait(ref CommRequest request) { }
    public override void Abort(int code) => Environment.Exit(code);
}
