using Lathe.Distributed;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using AdamWKernel = Lathe.Tensors.Kernels.AdamW;

namespace Lathe.Training.Distributed;

/// <summary>Data parallelism for the trainer: every rank computes the gradient of its own slice of the batch, and the
/// gradients are summed over ranks in buckets that leave while the backward is still running (as PyTorch DDP's
/// buckets do). With <see cref="ShardOptimizer"/> (ZeRO stage 1) each rank keeps AdamW's moments for one K-th of every
/// bucket only, receives just that part of the summed gradient (reduce-scatter), updates those parameters and
/// all-gathers them; without it the whole gradient is all-reduced and every rank runs the full optimizer.</summary>
/// <remarks>
/// Buckets hold the trainable parameters in reverse order (the last layers' gradients are final first), up to
/// <c>bucketMb</c> each, and leave strictly in bucket order so every rank issues the same collectives in the same
/// order. A bucket may leave once the backward has passed the first node that reads each of its parameters
/// (<see cref="Tape.FirstReaders"/>); while later nodes run, the pending collectives are advanced with MPI_Test, so no
/// thread besides the compute thread touches MPI. Gradients are averaged (× 1/K) after the sum.
/// </remarks>
public sealed unsafe class DataParallel : IBackwardObserver, IDisposable
{
    /// <summary>The default bucket size: small enough that the backward of one layer covers a bucket's transfer.</summary>
    public const double DefaultBucketMb = 4;

    readonly Communicator _world;
    readonly ModelParameter[] _params;
    readonly Tensor[] _leaves;
    readonly int[] _firstReader;
    readonly Bucket[] _buckets;
    int _next, _oldest, _sinceTest;
    long _waitTicks;

    /// <summary>ZeRO: AdamW's update count t (bias correction), saved in the checkpoint's optimizer file.</summary>
    public int StepCount { get; set; }
    /// <summary>ZeRO stage 1: the optimizer state is sharded over ranks.</summary>
    public bool ShardOptimizer { get; }
    /// <summary>Floats of optimizer state (both moments) this rank holds.</summary>
    public long OptimizerFloats { get; }
    /// <summary>Seconds the last step's compute thread spent blocked waiting for collectives (what overlap did not hide):
    /// the gradient buckets still in flight when the backward ended, and (ZeRO) the parameters' all-gather.</summary>
    public double LastWaitSeconds { get; private set; }
    public Communicator World => _world;
    public int BucketCount => _buckets.Length;

    sealed class Bucket
    {
        public required int[] Params;     // indices into _params
        public required long[] Offsets;   // each parameter's offset in the flat buffer
        public long Length, Piece;        // floats used; floats per rank (the buffer holds Piece · K)
        public required Tensor Buffer;    // packed gradients, later (ZeRO) the gathered parameters
        public Tensor? Shard;             // ZeRO: this rank's summed gradient piece
        public Tensor? M, V;              // ZeRO: this rank's moments
        public Segment[] Mine = [];       // ZeRO: the parts of parameters inside this rank's piece
        public int Ready;                 // the slot after which every gradient of the bucket is final
        public CommRequest Request;
    }

    /// <summary>A run of one parameter inside this rank's piece of a bucket.</summary>
    readonly record struct Segment(int Param, long ParamOffset, long PieceOffset, long Length);

    public DataParallel(Communicator world, IReadOnlyList<ModelParameter> trainable, bool shardOptimizer, double bucketMb = DefaultBucketMb)
    {
        if (!(bucketMb > 0)) throw new ArgumentException($"--bucket-mb: {bucketMb} must be positive");
        _world = world;
        _params = trainable.ToArray();
        _leaves = _params.Select(p => p.Value).ToArray();
        _firstReader = new int[_params.Length];
        ShardOptimizer = shardOptimizer;
        long capacity = Math.Max(1, (long)(bucketMb * 1024 * 1024 / sizeof(float)));
        var buckets = new List<Bucket>();
        var members = new List<int>();
        long used = 0;
        void Close()
        {
            if (members.Count == 0) return;
            var offsets = new long[members.Count];
            long at = 0;
            for (int j = 0; j < members.Count; j++) { offsets[j] = at; at += _params[members[j]].Value.Length; }
            long piece = (at + world.Size - 1) / world.Size;
            buckets.Add(new Bucket { Params = members.ToArray(), Offsets = offsets, Length = at, Piece = piece, Buffer = Tensor.Zeros([checked((int)(piece * world.Size))]) });
            members.Clear();
            used = 0;
        }
        for (int i = _params.Length - 1; i >= 0; i--)
        {
            long n = _params[i].Value.Length;
            if (used > 0 && used + n > capacity) Close();
            members.Add(i);
            used += n;
        }
        Close();
        _buckets = buckets.ToArray();
        if (shardOptimizer)
        {
            foreach (var b in _buckets)
            {
                b.Shard = Tensor.Zeros([(int)b.Piece]);
                b.M = Tensor.Zeros([(int)b.Piece]);
                b.V = Tensor.Zeros([(int)b.Piece]);
                b.Mine = SegmentsOf(b, world.Rank);
                OptimizerFloats += 2 * b.Piece;
            }
        }
        else OptimizerFloats = 2 * _params.Sum(p => p.Value.Length);
    }

    // Which parameter runs fall inside rank r's piece [r·Piece, (r+1)·Piece) of the bucket.
    Segment[] SegmentsOf(Bucket b, int rank)
    {
        long lo = rank * b.Piece, hi = Math.Min(lo + b.Piece, b.Length);
        var list = new List<Segment>();
        for (int j = 0; j < b.Params.Length; j++)
        {
            long start = b.Offsets[j], end = start + _params[b.Params[j]].Value.Length;
            long s = Math.Max(start, lo), e = Math.Min(end, hi);
            if (s < e) list.Add(new Segment(b.Params[j], s - start, s - lo, e - s));
        }
        return list.ToArray();
    }

    /// <summary>Call after the last micro-batch's forward, before its backward (which must be given this object as
    /// observer): works out when each bucket's gradients will be final.</summary>
    public void BeginBackward(Tape tape)
    {
        tape.FirstReaders(_leaves, _firstReader);
        foreach (var b in _buckets)
        {
            int ready = int.MaxValue;   // a parameter no node reads has its final gradient already
            foreach (int p in b.Params)
                if (_firstReader[p] >= 0) ready = Math.Min(ready, _firstReader[p]);
            b.Ready = ready;
        }
        _next = _oldest = _sinceTest = 0;
        _waitTicks = 0;
    }

    /// <inheritdoc/>
    public void Passed(int slot)
    {
        while (_next < _buckets.Length && _buckets[_next].Ready >= slot) Launch(_buckets[_next++]);
        // Collectives only move when MPI is called: advance the oldest pending one every few nodes.
        if (_oldest < _next && ++_sinceTest >= 4)
        {
            _sinceTest = 0;
            while (_oldest < _next && _world.Test(ref _buckets[_oldest].Request)) _oldest++;
        }
    }

    void Launch(Bucket b)
    {
        float* buffer = b.Buffer.Data;
        for (int j = 0; j < b.Params.Length; j++)
        {
            var p = _params[b.Params[j]].Value;
            long n = p.Length;
            if (p.Grad is { } g) Buffer.MemoryCopy(g.Data, buffer + b.Offsets[j], n * sizeof(float), n * sizeof(float));
            else new Span<float>(buffer + b.Offsets[j], (int)n).Clear();
        }
        long padded = b.Piece * _world.Size;
        if (padded > b.Length) new Span<float>(buffer + b.Length, (int)(padded - b.Length)).Clear();
        b.Request = ShardOptimizer
            ? _world.StartReduceScatterSum(buffer, b.Shard!.Data, b.Piece)
            : _world.StartAllReduceSum(buffer, b.Length);
    }

    /// <summary>After the backward: sends what has not left yet, waits for every bucket and averages. Without
    /// sharding the parameters' gradients then hold the global mean; with it, this rank's pieces do.</summary>
    public void FinishBackward()
    {
        while (_next < _buckets.Length) Launch(_buckets[_next++]);
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        foreach (var b in _buckets) _world.Wait(ref b.Request);
        _waitTicks += System.Diagnostics.Stopwatch.GetTimestamp() - start;
        LastWaitSeconds = _waitTicks / (double)System.Diagnostics.Stopwatch.Frequency;
        float inv = 1f / _world.Size;
        foreach (var b in _buckets)
        {
            if (ShardOptimizer)
            {
                var piece = new Span<float>(b.Shard!.Data, (int)b.Piece);
                System.Numerics.Tensors.TensorPrimitives.Multiply(piece, inv, piece);
                continue;
            }
            for (int j = 0; j < b.Params.Length; j++)
            {
                var p = _params[b.Params[j]].Value;
                if (p.Grad is not { } g) continue;
                var src = new ReadOnlySpan<float>(b.Buffer.Data + b.Offsets[j], (int)p.Length);
                System.Numerics.Tensors.TensorPrimitives.Multiply(src, inv, new Span<float>(g.Data, (int)p.Length));
            }
        }
    }

    /// <summary>ZeRO: Σ g² over this rank's pieces (the trainer sums the ranks' parts in rank order for the global norm).</summary>
    public double ShardSquaredNorm()
    {
        double sum = 0;
        foreach (var b in _buckets)
            foreach (var s in b.Mine)
                sum += AdamWKernel.SumOfSquares(new ReadOnlySpan<float>(b.Shard!.Data + s.PieceOffset, (int)s.Length));
        return sum;
    }

    /// <summary>ZeRO: AdamW on this rank's pieces (gradients first scaled by <paramref name="gradScale"/>, the clip),
    /// then every rank's updated pieces are all-gathered into every parameter.</summary>
    public void Step(float lr, float gradScale, float beta1, float beta2, float eps, float weightDecay)
    {
        int rank = _world.Rank, step = ++StepCount;
        foreach (var b in _buckets)
        {
            foreach (var s in b.Mine)
            {
                var p = _params[s.Param];
                float* g = b.Shard!.Data + s.PieceOffset;
                if (gradScale != 1f) System.Numerics.Tensors.TensorPrimitives.Multiply(new ReadOnlySpan<float>(g, (int)s.Length), gradScale, new Span<float>(g, (int)s.Length));
                float* w = p.Value.Data + s.ParamOffset;
                AdamWKernel.Step(w, g, b.M!.Data + s.PieceOffset, b.V!.Data + s.PieceOffset, (int)s.Length, lr, beta1, beta2, eps, p.Decay ? weightDecay : 0f, step);
                Buffer.MemoryCopy(w, b.Buffer.Data + rank * b.Piece + s.PieceOffset, s.Length * sizeof(float), s.Length * sizeof(float));
            }
            b.Request = _world.StartAllGather(null, b.Piece * sizeof(float), b.Buffer.Data);
        }
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        foreach (var b in _buckets) _world.Wait(ref b.Request);
        // The all-gather overlaps nothing: all of its time is waiting, counted with the backward's.
        LastWaitSeconds += System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
        foreach (var b in _buckets)
        {
            for (int j = 0; j < b.Params.Length; j++)
            {
                var p = _params[b.Params[j]].Value;
                Buffer.MemoryCopy(b.Buffer.Data + b.Offsets[j], p.Data, p.Length * sizeof(float), p.Length * sizeof(float));
            }
        }
    }

    /// <summary>ZeRO: every parameter's whole moments, gathered from all ranks (collective; every rank gets them).</summary>
    public (float[][] M, float[][] V) GatherMoments()
    {
        var m = new float[_params.Length][];
        var v = new float[_params.Length][];
        foreach (var b in _buckets)
        {
            using var all = Tensor.Zeros([(int)(b.Piece * _world.Size)]);
            foreach (var (source, into) in new[] { (b.M!, m), (b.V!, v) })
            {
                _world.AllGather(source.Data, b.Piece * sizeof(float), all.Data);
                for (int j = 0; j < b.Params.Length; j++)
                    into[b.Params[j]] = new ReadOnlySpan<float>(all.Data + b.Offsets[j], (int)_params[b.Params[j]].Value.Length).ToArray();
            }
        }
        return (m, v);
    }

    /// <summary>ZeRO: takes this rank's pieces of whole per-parameter moments (as a checkpoint holds them).</summary>
    public void ScatterMoments(float[][] m, float[][] v)
    {
        foreach (var b in _buckets)
            foreach (var s in b.Mine)
            {
                m[s.Param].AsSpan((int)s.ParamOffset, (int)s.Length).CopyTo(new Span<float>(b.M!.Data + s.PieceOffset, (int)s.Length));
                v[s.Param].AsSpan((int)s.ParamOffset, (int)s.Length).CopyTo(new Span<float>(b.V!.Data + s.PieceOffset, (int)s.Length));
            }
    }

    /// <summary>A fingerprint of every trainable parameter's bits, for checking that the replicas agree.</summary>
    public ulong WeightsFingerprint()
    {
        ulong h = 1469598103934665603UL;
        foreach (var p in _params)
        {
            var bits = new ReadOnlySpan<uint>(p.Value.Data, (int)p.Value.Length);
            foreach (uint x in bits) h = (h ^ x) * 1099511628211UL;   // FNV-1a over 32-bit words
            h = Lathe.Data.Hash64.Mix(h);
        }
        return h;
    }

    public void Dispose()
    {
        foreach (var b in _buckets)
        {
            b.Buffer.Dispose();
            b.Shard?.Dispose();
            b.M?.Dispose();
            b.V?.Dispose();
        }
    }
}
