namespace Lathe.Distributed;

/// <summary>Thrown on every rank at once when a <see cref="JobFence"/> finds that some rank failed: every rank can
/// stop cleanly (MPI_Finalize) because none is left inside a collective.</summary>
public sealed class JobFenceException(string message, int exitCode) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>The point after a job's setup (reading options, files and checkpoints) where the ranks compare notes:
/// if any rank failed, every rank learns the first failure (lowest rank) and stops with the same one-line error —
/// rank 0 prints it — instead of the healthy ranks waiting forever in the first collective.</summary>
public static class JobFence
{
    /// <summary>Runs <paramref name="setup"/> on every rank, then agrees: returns its result when every rank
    /// succeeded, else throws <see cref="JobFenceException"/> on every rank. <paramref name="isUserError"/> says which
    /// exceptions are the caller's fault (exit 2) rather than ours (exit 1).</summary>
    public static T Run<T>(Communicator world, Func<T> setup, Func<Exception, bool> isUserError)
    {
        T result = default!;
        Exception? failure = null;
        try { result = setup(); }
        catch (Exception e) when (world.Size > 1) { failure = e; }
        if (world.Size == 1) return result;
        string mine = failure is null ? "" : $"{(isUserError(failure) ? 2 : 1)}|{(isUserError(failure) ? failure.Message : $"{failure.GetType().Name}: {failure.Message}")}";
        var all = world.AllGatherBytes(System.Text.Encoding.UTF8.GetBytes(mine));
        for (int r = 0; r < all.Length; r++)
        {
            if (all[r].Length == 0) continue;
            string text = System.Text.Encoding.UTF8.GetString(all[r]);
            int bar = text.IndexOf('|');
            (result as IDisposable)?.Dispose();
            throw new JobFenceException((r == 0 ? "" : $"rank {r}: ") + text[(bar + 1)..], text[0] - '0');
        }
        return result;
    }
}
