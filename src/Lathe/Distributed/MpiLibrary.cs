using System.Runtime.InteropServices;

namespace Lathe.Distributed;

/// <summary>Our binding to Open MPI's C library (Debian's libopenmpi3: libmpi.so.40), resolved at run time so a
/// single process never needs it installed. Only the calls Lathe uses: init/finalize, rank and size, all-reduce,
/// broadcast, all-gather, reduce-scatter, barrier and their non-blocking forms, test/wait, abort.</summary>
/// <remarks>Open MPI's handles (MPI_Comm, MPI_Datatype, MPI_Op, MPI_Request) are pointers; the predefined ones
/// (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, …) are the addresses of exported globals (mpi.h's OMPI_PREDEFINED_GLOBAL), so
/// they are looked up by symbol. MPI_IN_PLACE is (void*)1 and MPI_STATUS_IGNORE is NULL (mpi.h). The library is
/// opened with RTLD_GLOBAL, as Open MPI's dynamically loaded components expect to find its symbols.</remarks>
internal sealed unsafe class MpiLibrary
{
    public const int Success = 0;
    public const int ThreadFunneled = 1;   // MPI_THREAD_FUNNELED: only the main thread calls MPI
    public static readonly nint InPlace = 1;

    public readonly nint CommWorld, Float, Byte, Sum;

    public readonly delegate* unmanaged<int*, byte***, int, int*, int> InitThread;
    public readonly delegate* unmanaged<int*, int> Initialized;
    public readonly delegate* unmanaged<int> Finalize;
    public readonly delegate* unmanaged<int*, int> Finalized;
    public readonly delegate* unmanaged<nint, int*, int> CommRank;
    public readonly delegate* unmanaged<nint, int*, int> CommSize;
    public readonly delegate* unmanaged<nint, int, int> Abort;
    public readonly delegate* unmanaged<nint, int> Barrier;
    public readonly delegate* unmanaged<nint, nint*, int> Ibarrier;
    public readonly delegate* unmanaged<void*, void*, int, nint, nint, nint, int> Allreduce;
    public readonly delegate* unmanaged<void*, void*, int, nint, nint, nint, nint*, int> Iallreduce;
    public readonly delegate* unmanaged<void*, int, nint, int, nint, int> Bcast;
    public readonly delegate* unmanaged<void*, int, nint, int, nint, nint*, int> Ibcast;
    public readonly delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int> Allgather;
    public readonly delegate* unmanaged<void*, int, nint, void*, int, nint, nint, nint*, int> Iallgather;
    public readonly delegate* unmanaged<void*, void*, int, nint, nint, nint, int> ReduceScatterBlock;
    public readonly delegate* unmanaged<void*, void*, int, nint, nint, nint, nint*, int> IreduceScatterBlock;
    public readonly delegate* unmanaged<nint*, int*, void*, int> Test;
    public readonly delegate* unmanaged<nint*, void*, int> Wait;
    public readonly delegate* unmanaged<int, byte*, int*, int> ErrorString;

    /// <summary>The sonames tried, newest ABI first (Debian bookworm ships libmpi.so.40).</summary>
    static readonly string[] Names = ["libmpi.so.40", "libmpi.so"];

    readonly nint _handle;

    MpiLibrary(nint handle)
    {
        _handle = handle;
        CommWorld = Symbol("ompi_mpi_comm_world");
        Float = Symbol("ompi_mpi_float");
        Byte = Symbol("ompi_mpi_byte");
        Sum = Symbol("ompi_mpi_op_sum");
        InitThread = (delegate* unmanaged<int*, byte***, int, int*, int>)Symbol("MPI_Init_thread");
        Initialized = (delegate* unmanaged<int*, int>)Symbol("MPI_Initialized");
        Finalize = (delegate* unmanaged<int>)Symbol("MPI_Finalize");
        Finalized = (delegate* unmanaged<int*, int>)Symbol("MPI_Finalized");
        CommRank = (delegate* unmanaged<nint, int*, int>)Symbol("MPI_Comm_rank");
        CommSize = (delegate* unmanaged<nint, int*, int>)Symbol("MPI_Comm_size");
        Abort = (delegate* unmanaged<nint, int, int>)Symbol("MPI_Abort");
        Barrier = (delegate* unmanaged<nint, int>)Symbol("MPI_Barrier");
        Ibarrier = (delegate* unmanaged<nint, nint*, int>)Symbol("MPI_Ibarrier");
        Allreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)Symbol("MPI_Allreduce");
        Iallreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, nint*, int>)Symbol("MPI_Iallreduce");
        Bcast = (delegate* unmanaged<void*, int, nint, int, nint, int>)Symbol("MPI_Bcast");
        Ibcast = (delegate* unmanaged<void*, int, nint, int, nint, nint*, int>)Symbol("MPI_Ibcast");
        Allgather = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int>)Symbol("MPI_Allgather");
        Iallgather = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, nint*, int>)Symbol("MPI_Iallgather");
        ReduceScatterBlock = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)Symbol("MPI_Reduce_scatter_block");
        IreduceScatterBlock = (delegate* unmanaged<void*, void*, int, nint, nint, nint, nint*, int>)Symbol("MPI_Ireduce_scatter_block");
        Test = (delegate* unmanaged<nint*, int*, void*, int>)Symbol("MPI_Test");
        Wait = (delegate* unmanaged<nint*, void*, int>)Symbol("MPI_Wait");
        ErrorString = (delegate* unmanaged<int, byte*, int*, int>)Symbol("MPI_Error_string");
    }

    nint Symbol(string name) =>
        NativeLibrary.TryGetExport(_handle, name, out var address) ? address
            : throw new MpiUnavailableException($"mpi: the MPI library has no symbol {name}; Lathe needs Open MPI 4 (Debian: apt-get install openmpi-bin libopenmpi-dev)");

    /// <summary>Opens the library, or throws <see cref="MpiUnavailableException"/> naming what is missing.</summary>
    /// <remarks>LATHE_MPI_LIBRARY names another build of Open MPI's libmpi (a cluster's own, outside the loader's path).</remarks>
    public static MpiLibrary Load()
    {
        string? own = Environment.GetEnvironmentVariable("LATHE_MPI_LIBRARY");
        foreach (var name in own is { Length: > 0 } ? [own] : Names)
        {
            nint handle = DlOpen(name);
            if (handle != 0) return new MpiLibrary(handle);
        }
        throw new MpiUnavailableException(own is { Length: > 0 }
            ? $"mpi: launched by mpirun but LATHE_MPI_LIBRARY={own} cannot be loaded"
            : "mpi: launched by mpirun but the MPI library (libmpi.so.40) is not installed; on Debian: apt-get install openmpi-bin libopenmpi-dev");
    }

    // dlopen with RTLD_NOW | RTLD_GLOBAL (glibc: 0x2 | 0x100): NativeLibrary.Load uses RTLD_LOCAL, which hides libmpi's
    // symbols from the components Open MPI loads itself.
    static nint DlOpen(string name)
    {
        fixed (byte* p = System.Text.Encoding.UTF8.GetBytes(name + "\0"))
        {
            try { return dlopen(p, 0x2 | 0x100); }
            catch (DllNotFoundException) { return NativeLibrary.TryLoad(name, out var h) ? h : 0; }
        }
    }

    [DllImport("libc", EntryPoint = "dlopen")]
    static extern nint dlopen(byte* file, int mode);

    /// <summary>The library's text for an error code.</summary>
    public string Describe(int code)
    {
        byte* buffer = stackalloc byte[512];
        int length = 0;
        return ErrorString(code, buffer, &length) == Success ? System.Text.Encoding.UTF8.GetString(buffer, length) : $"error {code}";
    }
}

/// <summary>MPI was asked for (the process was launched by mpirun) but cannot be used.</summary>
public sealed class MpiUnavailableException(string message) : Exception(message);
