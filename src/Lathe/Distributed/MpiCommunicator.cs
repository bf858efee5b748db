namespace Lathe.Distributed;

/// <summary>The job mpirun launched, over MPI_COMM_WORLD. MPI is initialised with MPI_THREAD_FUNNELED: the thread
/// that created the communicator makes every MPI call (the compute pool's workers never do). Errors keep MPI's
/// default handler (MPI_ERRORS_ARE_FATAL), so a failed collective — a peer that died — ends the whole job rather
/// than leaving a rank waiting.</summary>
public sealed unsafe class MpiCommunicator : Communicator
{
    readonly MpiLibrary _mpi;
    readonly nint _comm;
    bool _finalized;

    public override int Rank { get; }
    public override int Size { get; }

    MpiCommunicator(MpiLibrary mpi)
    {
        _mpi = mpi;
        int already = 0;
        Check(mpi.Initialized(&already), "MPI_Initialized");
        if (already == 0)
        {
            int provided = 0;
            Check(mpi.InitThread(null, null, MpiLibrary.ThreadFunneled, &provided), "MPI_Init_thread");
        }
        _comm = mpi.CommWorld;
        int rank = 0, size = 0;
        Check(mpi.CommRank(_comm, &rank), "MPI_Comm_rank");
        Check(mpi.CommSize(_comm, &size), "MPI_Comm_size");
        Rank = rank;
        Size = size;
    }

    /// <summary>Loads the library and initialises MPI (collective: every rank of the job must call it).</summary>
    public static MpiCommunicator Initialize() => new(MpiLibrary.Load());

    void Check(int code, string call)
    {
        if (code != MpiLibrary.Success) throw new MpiException($"mpi: {call} failed on rank {Rank}: {_mpi.Describe(code)}");
    }

    static int Count(long n, string call) =>
        n is >= 0 and <= int.MaxValue ? (int)n : throw new ArgumentOutOfRangeException(nameof(n), $"mpi: {call}: {n} elements is more than one call carries");

    public override void Barrier() => Check(_mpi.Barrier(_comm), "MPI_Barrier");

    public override void AllReduceSum(float* data, long count) =>
        Check(_mpi.Allreduce((void*)MpiLibrary.InPlace, data, Count(count, "MPI_Allreduce"), _mpi.Float, _mpi.Sum, _comm), "MPI_Allreduce");

    public override void Broadcast(void* data, long bytes, int root)
    {
        // In chunks: a count is a C int.
        for (long done = 0; done < bytes;)
        {
            int n = (int)Math.Min(bytes - done, 1 << 30);
            Check(_mpi.Bcast((byte*)data + done, n, _mpi.Byte, root, _comm), "MPI_Bcast");
            done += n;
        }
    }

    public override void AllGather(void* mine, long bytes, void* all) =>
        Check(_mpi.Allgather(mine is null ? (void*)MpiLibrary.InPlace : mine, Count(bytes, "MPI_Allgather"), _mpi.Byte, all, (int)bytes, _mpi.Byte, _comm), "MPI_Allgather");

    public override void ReduceScatterSum(float* data, float* mine, long countEach) =>
        Check(_mpi.ReduceScatterBlock(data, mine, Count(countEach, "MPI_Reduce_scatter_block"), _mpi.Float, _mpi.Sum, _comm), "MPI_Reduce_scatter_block");

    public override CommRequest StartBarrier()
    {
        var r = default(CommRequest);
        Check(_mpi.Ibarrier(_comm, &r.Handle), "MPI_Ibarrier");
        return r;
    }

    public override CommRequest StartAllReduceSum(float* data, long count)
    {
        var r = default(CommRequest);
        Check(_mpi.Iallreduce((void*)MpiLibrary.InPlace, data, Count(count, "MPI_Iallreduce"), _mpi.Float, _mpi.Sum, _comm, &r.Handle), "MPI_Iallreduce");
        return r;
    }

    public override CommRequest StartBroadcast(void* data, long bytes, int root)
    {
        var r = default(CommRequest);
        Check(_mpi.Ibcast(data, Count(bytes, "MPI_Ibcast"), _mpi.Byte, root, _comm, &r.Handle), "MPI_Ibcast");
        return r;
    }

    public override CommRequest StartAllGather(void* mine, long bytes, void* all)
    {
        var r = default(CommRequest);
        Check(_mpi.Iallgather(mine is null ? (void*)MpiLibrary.InPlace : mine, Count(bytes, "MPI_Iallgather"), _mpi.Byte, all, (int)bytes, _mpi.Byte, _comm, &r.Handle), "MPI_Iallgather");
        return r;
    }

    public override CommRequest StartReduceScatterSum(float* data, float* mine, long countEach)
    {
        var r = default(CommRequest);
        Check(_mpi.IreduceScatterBlock(data, mine, Count(countEach, "MPI_Ireduce_scatter_block"), _mpi.Float, _mpi.Sum, _comm, &r.Handle), "MPI_Ireduce_scatter_block");
        return r;
    }

    public override bool Test(ref CommRequest request)
    {
        if (request.Handle == 0) return true;
        int flag = 0;
        nint handle = request.Handle;
        Check(_mpi.Test(&handle, &flag, null), "MPI_Test");
        if (flag == 0) return false;
        request.Handle = 0;
        return true;
    }

    public override void Wait(ref CommRequest request)
    {
        if (request.Handle == 0) return;
        nint handle = request.Handle;
        Check(_mpi.Wait(&handle, null), "MPI_Wait");
        request.Handle = 0;
    }

    public override void Abort(int code)
    {
        Console.Error.Flush();
        _mpi.Abort(_comm, code);
        Environment.Exit(code);   // not reached: MPI_Abort ends the process
    }

    /// <summary>MPI_Finalize (collective): every rank calls it once at the end of the job.</summary>
    public override void Dispose()
    {
        if (_finalized) return;
        _finalized = true;
        int done = 0;
        _mpi.Finalized(&done);
        if (done == 0) _mpi.Finalize();
    }
}

/// <summary>An MPI call returned an error.</summary>
public sealed class MpiException(string message) : Exception(message);
