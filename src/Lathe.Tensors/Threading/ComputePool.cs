using System.Runtime.CompilerServices;

namespace Lathe.Tensors.Threading;

/// <summary>A body of parallel work: <see cref="Execute"/> runs once for each index in [0, count).
/// Bodies are unmanaged structs (raw pointers and numbers), so dispatching one allocates nothing and
/// captures nothing.</summary>
public interface IParallelBody
{
    void Execute(int index);
}

/// <summary>A persistent pool of compute threads sized to the cores. Unlike <c>Parallel.For</c> it has no
/// per-call start-up: workers spin briefly on a generation counter, then sleep on a semaphore, so short
/// kernels (a 64×64 matmul, a softmax over a few rows) are still worth splitting.</summary>
/// <remarks>Determinism: indices are claimed dynamically, but a body must make each index's result
/// depend only on the index (never on which thread ran it or in which order), so results are
/// bit-identical for any schedule. Reductions across indices are done by the caller, in index order.</remarks>
public sealed unsafe class ComputePool : IDisposable
{
    static ComputePool? s_shared;

    /// <summary>The process-wide pool. Its size is <c>LATHE_THREADS</c> if set, else the core count.</summary>
    public static ComputePool Shared
    {
        get
        {
            if (s_shared is { } pool) return pool;
            var created = new ComputePool(DefaultThreads());
            return Interlocked.CompareExchange(ref s_shared, created, null) ?? created;
        }
    }

    /// <summary>Replaces the shared pool with one of <paramref name="threads"/> threads (1 = run inline).</summary>
    public static void SetSharedThreads(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "threads must be at least 1.");
        var old = Interlocked.Exchange(ref s_shared, new ComputePool(threads));
        old?.Dispose();
    }

    static int DefaultThreads() =>
        int.TryParse(Environment.GetEnvironmentVariable("LATHE_THREADS"), out int t) && t > 0 ? t : Environment.ProcessorCount;

    const int SpinIterations = 4000;
    readonly Thread[] _workers;
    // One wake event per worker. (A shared counting semaphore lets a worker that found a job by spinning
    // take a permit meant for a sleeping one, which then sleeps through the job: a deadlock.)
    readonly ManualResetEventSlim[] _wake;
    // The job in flight. _ticket packs (generation << 32 | next index): claiming an index is one CAS that also
    // proves the job is still the one the claimer saw, so a worker arriving late can never run an index of a
    // newer job twice. The caller waits for _remaining (indices not yet finished), not for every worker to check
    // in — a worker the OS has descheduled costs nothing unless it holds an index.
    delegate*<int, nint, void> _body;
    nint _state;
    int _count;
    long _ticket;
    int _remaining;
    volatile bool _stopping;
    int _busy;           // 1 while a job is in flight
    const int Closed = int.MaxValue;

    /// <summary>Number of threads that run a job, the caller included.</summary>
    public int Threads { get; }

    public ComputePool(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "threads must be at least 1.");
        Threads = threads;
        _workers = new Thread[threads - 1];
        _wake = new ManualResetEventSlim[threads - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            var wake = _wake[i] = new ManualResetEventSlim(false, spinCount: 0);
            _workers[i] = new Thread(() => WorkerLoop(wake)) { IsBackground = true, Name = $"lathe-compute-{i + 1}" };
            _workers[i].Start();
        }
    }

    /// <summary>Runs <c>body.Execute(i)</c> for every i in [0, count) on the pool and the calling thread,
    /// returning when all are done. The body is read through a pointer to the caller's stack, so it
    /// must not be moved while the call runs (it is not: the call blocks). Bodies must not throw.</summary>
    public void For<TBody>(int count, ref TBody body) where TBody : unmanaged, IParallelBody
    {
        if (count <= 0) return;
        if (count >= Closed) throw new ArgumentOutOfRangeException(nameof(count), count, "count must be below int.MaxValue.");
        if (count == 1 || Threads == 1)
        {
            for (int i = 0; i < count; i++) body.Execute(i);
            return;
        }
        fixed (TBody* p = &body)
            Run(count, &Invoke<TBody>, (nint)p);
    }

    static void Invoke<TBody>(int index, nint state) where TBody : unmanaged, IParallelBody =>
        ((TBody*)state)->Execute(index);

    void Run(int count, delegate*<int, nint, void> body, nint state)
    {
        // Nested or concurrent calls (a body that itself calls For — on a worker or on the dispatching
        // thread — or two user threads) run inline. A flag, not a Monitor: Monitor is re-entrant.
        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            for (int i = 0; i < count; i++) body(i, state);
            return;
        }
        try
        {
            // Close the ticket before touching the job's fields: a worker still holding the previous job's
            // last ticket could otherwise pass its bounds check against the new count and claim with it.
            long generation = (Volatile.Read(ref _ticket) >> 32) + 1;
            Volatile.Write(ref _ticket, (generation << 32) | Closed);
            _body = body;
            _state = state;
            _count = count;
            Volatile.Write(ref _remaining, count);
            Volatile.Write(ref _ticket, generation << 32);
            foreach (var wake in _wake) wake.Set();
            Drain(generation);
            var spin = new SpinWait();
            while (Volatile.Read(ref _remaining) != 0) spin.SpinOnce(-1);
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    void Drain(long generation)
    {
        while (true)
        {
            long ticket = Volatile.Read(ref _ticket);
            if (ticket >> 32 != generation) return;
            int index = (int)ticket;
            if (index == Closed) { Thread.SpinWait(1); continue; }   // the job is being set up
            if (index >= Volatile.Read(ref _count)) return;
            if (Interlocked.CompareExchange(ref _ticket, ticket + 1, ticket) != ticket) continue;
            // The claim proves job `generation` is unfinished, so body and state are still its own.
            _body(index, _state);
            Interlocked.Decrement(ref _remaining);
        }
    }

    void WorkerLoop(ManualResetEventSlim wake)
    {
        long seen = 0;
        while (true)
        {
            // Spin for a short while (back-to-back kernels of a training step arrive within
            // microseconds), then sleep until woken. A set left over from a job found by spinning only
            // costs one extra pass of this loop.
            for (int s = 0; s < SpinIterations && Volatile.Read(ref _ticket) >> 32 == seen && !_stopping; s++)
                Thread.SpinWait(20);
            if (Volatile.Read(ref _ticket) >> 32 == seen && !_stopping)
            {
                wake.Wait();
                wake.Reset();
            }
            if (_stopping) return;
            long generation = Volatile.Read(ref _ticket) >> 32;
            if (generation == seen) continue;
            seen = generation;
            Drain(generation);
        }
    }

    public void Dispose()
    {
        _stopping = true;
        foreach (var wake in _wake) wake.Set();
        foreach (var w in _workers) w.Join();
        foreach (var wake in _wake) wake.Dispose();
    }
}
