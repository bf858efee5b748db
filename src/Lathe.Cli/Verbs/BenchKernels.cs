using System.CommandLine;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tensors.Kernels;
using Lathe.Tensors.Threading;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe bench kernels`: the engine's hot kernels through the op layer (forward + backward on a tape, as
/// training runs them), plus the managed bytes a repeated training step allocates. One JSON line per kernel, then
/// a summary line last.</summary>
internal static unsafe class BenchKernels
{
    public static Command Create()
    {
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var seconds = new Option<double>("--seconds") { Description = "Minimum timed seconds per kernel.", DefaultValueFactory = _ => 1.0 };
        var command = new Command("kernels", "Softmax, LayerNorm, cross-entropy, GELU, attention, conv2d, conv_transpose2d, GroupNorm (forward+backward), AdamW; allocation per step.") { threads, seconds };
        command.SetAction(r => Run(r.GetValue(threads), r.GetValue(seconds)));
        return command;
    }

    static Tensor Random(Philox rng, params int[] shape)
    {
        var t = Tensor.Zeros(shape);
        rng.FillUniform(t.AsSpan(), -1, 1);
        return t;
    }

    /// <summary>Times forward + backward of <paramref name="forward"/> on a reused tape; returns the median ms.</summary>
    static double TimeStep(Func<Tensor> forward, double seconds, out double forwardMs)
    {
        using var tape = new Tape();
        double fwd = 0;
        var times = BenchSupport.Time(() =>
        {
            tape.Reset();
            using (tape.Activate())
            {
                var y = forward();
                tape.Backward(Ops.MeanAll(y));
            }
        }, minSeconds: seconds);
        var fwdTimes = BenchSupport.Time(() =>
        {
            tape.Reset();
            using (tape.Activate()) using (Tape.NoGrad()) forward();
        }, minSeconds: seconds / 2);
        fwd = BenchSupport.Median(fwdTimes);
        forwardMs = fwd;
        return BenchSupport.Median(times);
    }

    static int Run(int threads, double seconds)
    {
        if (threads <= 0) throw new UserInputException($"bench kernels: --threads must be positive (got {threads}).");
        if (!(seconds > 0)) throw new UserInputException($"bench kernels: --seconds must be positive (got {seconds}).");
        ComputePool.SetSharedThreads(threads);
        var rng = new Philox(1);
        var summary = new List<(string, object)> { ("bench", "kernels"), ("threads", threads) };
        void Report(string name, string shape, double fwdMs, double stepMs)
        {
            BenchSupport.PrintJson(("bench", "kernels"), ("kernel", name), ("shape", shape), ("threads", threads), ("forward_ms", fwdMs), ("forward_backward_ms", stepMs));
            summary.Add(($"{name}_fwd_ms", fwdMs));
            summary.Add(($"{name}_fwdbwd_ms", stepMs));
        }

        using (var x = Random(rng, 2048, 4096))
        {
            x.RequiresGrad = true;
            double step = TimeStep(() => Ops.Softmax(x), seconds, out double fwd);
            Report("softmax", "2048x4096", fwd, step);
        }
        using (var x = Random(rng, 2048, 768))
        using (var w = Random(rng, 768))
        using (var b = Random(rng, 768))
        {
            x.RequiresGrad = w.RequiresGrad = b.RequiresGrad = true;
            double step = TimeStep(() => Ops.LayerNorm(x, w, b), seconds, out double fwd);
            Report("layernorm", "2048x768", fwd, step);
        }
        using (var logits = Random(rng, 2048, 8192))
        {
            logits.RequiresGrad = true;
            var targets = new int[2048];
            for (int i = 0; i < targets.Length; i++) targets[i] = rng.NextInt(8192);
            double step = TimeStep(() => Ops.CrossEntropy(logits, targets), seconds, out double fwd);
            Report("cross_entropy", "2048x8192", fwd, step);
        }
        using (var x = Random(rng, 2048, 3072))
        {
            x.RequiresGrad = true;
            double step = TimeStep(() => Ops.Gelu(x), seconds, out double fwd);
            Report("gelu", "2048x3072", fwd, step);
        }
        using (var q = Random(rng, 8, 4, 256, 64))
        using (var k = Random(rng, 8, 4, 256, 64))
        using (var v = Random(rng, 8, 4, 256, 64))
        {
            q.RequiresGrad = k.RequiresGrad = v.RequiresGrad = true;
            double step = TimeStep(() => Ops.Attention(q, k, v, causal: true), seconds, out double fwd);
            Report("attention", "B8,H4,T256,D64,causal", fwd, step);
            step = TimeStep(() => Ops.Attention(q, k, v, causal: true, dropout: 0.1f, dropoutSeed: 7), seconds, out fwd);
            Report("attention_dropout", "B8,H4,T256,D64,causal,p=0.1", fwd, step);
        }
        BenchVisionOps(rng, seconds, Report);
        {
            const int n = 10_000_000;
            using var p = Random(rng, n);
            using var g = Random(rng, n);
            using var m = Tensor.Zeros(n);
            using var v = Tensor.Zeros(n);
            int stepNo = 0;
            double ms = BenchSupport.Median(BenchSupport.Time(() => AdamW.Step(p.Data, g.Data, m.Data, v.Data, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, ++stepNo), minSeconds: seconds));
            BenchSupport.PrintJson(("bench", "kernels"), ("kernel", "adamw"), ("params", n), ("threads", threads), ("step_ms", ms), ("gb_per_s", n * 4.0 * 7 / (ms * 1e-3) / 1e9));
            summary.Add(("adamw_10m_ms", ms));
        }
        long allocated = AllocationPerStep(rng);
        BenchSupport.PrintJson(("bench", "kernels"), ("kernel", "train_step_allocation"), ("model", "2 pre-LN blocks, C=128, T=64, B=4"), ("bytes_per_step", allocated));
        summary.Add(("bytes_allocated_per_step", allocated));
        summary.Add(("peak_rss_mb", BenchSupport.PeakRssMb()));
        BenchSupport.PrintJson([.. summary]);
        return 0;
    }

    /// <summary>The vision ops at the sizes of a small image model's middle layers (issue #22): a 3×3 convolution, a
    /// stride-2 4×4 transposed convolution (DCGAN's generator) and GroupNorm.</summary>
    static void BenchVisionOps(Philox rng, double seconds, Action<string, string, double, double> report)
    {
        using (var x = Random(rng, 32, 64, 16, 16))
        using (var w = Random(rng, 64, 64, 3, 3))
        using (var b = Random(rng, 64))
        {
            x.RequiresGrad = w.RequiresGrad = b.RequiresGrad = true;
            double step = TimeStep(() => Ops.Conv2d(x, w, b, stride: 1, padding: 1), seconds, out double fwd);
            report("conv2d", "N32,C64,16x16,O64,k3,s1,p1", fwd, step);
        }
        using (var x = Random(rng, 32, 128, 8, 8))
        using (var w = Random(rng, 128, 64, 4, 4))
        {
            x.RequiresGrad = w.RequiresGrad = true;
            double step = TimeStep(() => Ops.ConvTranspose2d(x, w, null, stride: 2, padding: 1), seconds, out double fwd);
            report("conv_transpose2d", "N32,C128,8x8,O64,k4,s2,p1", fwd, step);
        }
        using (var x = Random(rng, 32, 128, 16, 16))
        using (var w = Random(rng, 128))
        using (var b = Random(rng, 128))
        {
            x.RequiresGrad = w.RequiresGrad = b.RequiresGrad = true;
            double step = TimeStep(() => Ops.GroupNorm(x, 32, w, b), seconds, out double fwd);
            report("groupnorm", "N32,C128,16x16,G32", fwd, step);
        }
    }

    /// <summary>Managed bytes allocated (all threads) by one steady-state training step of two pre-LN Transformer
    /// blocks built from the ops, averaged over 10 steps after 3 warm-up steps.</summary>
    static long AllocationPerStep(Philox rng)
    {
        const int B = 4, T = 64, C = 128, H = 4;
        var parameters = new List<Tensor>();
        Tensor P(params int[] shape) { var t = Random(rng, shape); t.AsSpan().Clear(); rng.FillUniform(t.AsSpan(), -0.1f, 0.1f); t.RequiresGrad = true; parameters.Add(t); return t; }
        Tensor Ones(int n) { var t = Tensor.Full(1f, n); t.RequiresGrad = true; parameters.Add(t); return t; }
        var layers = Enumerable.Range(0, 2).Select(_ => (ln1w: Ones(C), ln1b: P(C), qkv: P(3 * C, C), proj: P(C, C), ln2w: Ones(C), ln2b: P(C), fc: P(4 * C, C), fc2: P(C, 4 * C))).ToArray();
        var wte = P(256, C);
        var ids = new int[B * T];
        var targets = new int[B * T];
        for (int i = 0; i < ids.Length; i++) { ids[i] = rng.NextInt(256); targets[i] = rng.NextInt(256); }
        var parts = new Tensor[3];
        using var tape = new Tape();
        void Step()
        {
            tape.Reset();
            using (tape.Activate())
            {
                var x = Ops.Reshape(Ops.Embedding(wte, ids), B, T, C);
                foreach (var l in layers)
                {
                    var h = Ops.LayerNorm(x, l.ln1w, l.ln1b);
                    Ops.Split(Ops.Linear(h, l.qkv), -1, [C, C, C], parts);
                    var q = Ops.Transpose(Ops.Reshape(Ops.Contiguous(parts[0]), B, T, H, C / H), 1, 2);
                    var k = Ops.Transpose(Ops.Reshape(Ops.Contiguous(parts[1]), B, T, H, C / H), 1, 2);
                    var v = Ops.Transpose(Ops.Reshape(Ops.Contiguous(parts[2]), B, T, H, C / H), 1, 2);
                    var a = Ops.Reshape(Ops.Transpose(Ops.Attention(q, k, v, causal: true), 1, 2), B, T, C);
                    x = Ops.Add(x, Ops.Linear(a, l.proj));
                    x = Ops.Add(x, Ops.Linear(Ops.Gelu(Ops.Linear(Ops.LayerNorm(x, l.ln2w, l.ln2b), l.fc)), l.fc2));
                }
                var logits = Ops.MatMul(Ops.Reshape(x, B * T, C), wte, transB: true);
                tape.Backward(Ops.CrossEntropy(logits, targets));
            }
        }
        for (int i = 0; i < 3; i++) Step();
        long before = GC.GetTotalAllocatedBytes(precise: true);
        for (int i = 0; i < 10; i++) Step();
        long perStep = (GC.GetTotalAllocatedBytes(precise: true) - before) / 10;
        foreach (var p in parameters) p.Dispose();
        return perStep;
    }
}
