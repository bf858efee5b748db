namespace Lathe.Distributed;

/// <summary>The job this process belongs to. A process that mpirun (or Slurm's srun with PMIx) launched joins the
/// MPI job on first use of <see cref="World"/>; any other process is a one-rank job and never loads an MPI library.</summary>
public static class Job
{
    static Communicator? s_world;

    /// <summary>True when a launcher started this process as a rank of a parallel job (Open MPI's OMPI_COMM_WORLD_SIZE,
    /// PMIx's PMIX_RANK or the PMI2 environment Slurm sets).</summary>
    public static bool LaunchedByMpi =>
        Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is not null
        || Environment.GetEnvironmentVariable("PMIX_RANK") is not null
        || Environment.GetEnvironmentVariable("PMI_RANK") is not null;

    /// <summary>The launcher's rank for this process before MPI is initialised (0 when not launched by one): lets a
    /// rank decide who prints when MPI itself cannot be loaded.</summary>
    public static int LauncherRank =>
        int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_RANK") ?? Environment.GetEnvironmentVariable("PMIX_RANK")
            ?? Environment.GetEnvironmentVariable("PMI_RANK"), out int r) ? r : 0;

    /// <summary>The launcher's rank count before MPI is initialised (Open MPI's OMPI_COMM_WORLD_SIZE, PMI_SIZE, Slurm's
    /// SLURM_NTASKS), or 1 when not launched by one or it does not say.</summary>
    public static int LauncherSize =>
        int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") ?? Environment.GetEnvironmentVariable("PMI_SIZE")
            ?? (LaunchedByMpi ? Environment.GetEnvironmentVariable("SLURM_NTASKS") : null), out int n) && n > 0 ? n : 1;

    /// <summary>The job's communicator: MPI_COMM_WORLD under a launcher, else <see cref="SingleProcess"/>.</summary>
    public static Communicator World => s_world ??= LaunchedByMpi ? MpiCommunicator.Initialize() : SingleProcess.Instance;

    /// <summary>Whether <see cref="World"/> has been created (so <see cref="Shutdown"/> has something to finalise).</summary>
    public static bool Started => s_world is not null;

    /// <summary>Finalises MPI if it was started; every rank calls it once at exit.</summary>
    public static void Shutdown()
    {
        s_world?.Dispose();
    }
}
