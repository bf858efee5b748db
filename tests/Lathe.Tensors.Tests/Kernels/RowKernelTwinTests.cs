using Lathe.Tensors.Kernels;

namespace Lathe.Tensors.Tests.Kernels;

/// <summary>Each vectorized, threaded row/elementwise kernel against its scalar twin, for every row length 0..256
/// and row counts that leave partial chunks. Tolerances are a few float32 ulps of the row's scale: the twin sums
/// in double, the fast kernel in float vectors.</summary>
public unsafe class RowKernelTwinTests
{
    static float[] Rand(int n, int seed, float lo = -3f, float hi = 3f) => TestData.Uniform(n, seed, lo, hi);

    static void Close(float[] expected, float[] actual, float tol, string what)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * (1 + Math.Abs(expected[i])),
                $"{what}: element {i} is {actual[i]}, twin says {expected[i]}");
    }

    public static IEnumerable<object[]> Lengths()
    {
        for (int c = 0; c <= 256; c++) yield return [c];
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Softmax_and_log_softmax(int cols)
    {
        foreach (int rows in new[] { 1, 3 })
            foreach (bool log in new[] { false, true })
            {
                var x = Rand(rows * cols, cols);
                var dy = Rand(rows * cols, cols + 1);
                float[] y1 = new float[x.Length], y2 = new float[x.Length], d1 = Rand(x.Length, 5), d2 = (float[])d1.Clone();
                fixed (float* px = x, py1 = y1, py2 = y2, pdy = dy, pd1 = d1, pd2 = d2)
                {
                    ReferenceKernels.SoftmaxForward(px, py1, rows, cols, log);
                    SoftmaxKernel.Forward(px, py2, rows, cols, log);
                    ReferenceKernels.SoftmaxBackward(py1, pdy, pd1, rows, cols, log);
                    SoftmaxKernel.Backward(py1, pdy, pd2, rows, cols, log);
                }
                Close(y1, y2, 2e-6f, $"softmax log={log} forward");
                Close(d1, d2, 1e-5f, $"softmax log={log} backward");
            }
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void LayerNorm_and_RmsNorm(int cols)
    {
        if (cols == 0) return;  // a norm over zero features is rejected at the op
        foreach (int rows in new[] { 1, 5 })
            foreach (bool rms in new[] { false, true })
            {
                var x = Rand(rows * cols, cols, -2f, 4f);
                var w = Rand(cols, 7, 0.5f, 1.5f);
                var b = Rand(cols, 8);
                var dy = Rand(rows * cols, 9);
                float[] y1 = new float[x.Length], y2 = new float[x.Length];
                float[] m1 = new float[rows], r1 = new float[rows], m2 = new float[rows], r2 = new float[rows];
                float[] dx1 = Rand(x.Length, 10), dx2 = (float[])dx1.Clone();
                float[] dw1 = Rand(cols, 11), dw2 = (float[])dw1.Clone(), db1 = Rand(cols, 12), db2 = (float[])db1.Clone();
                fixed (float* px = x, pw = w, pb = b, py1 = y1, py2 = y2, pm1 = m1, pr1 = r1, pm2 = m2, pr2 = r2, pdy = dy,
                       pdx1 = dx1, pdx2 = dx2, pdw1 = dw1, pdw2 = dw2, pdb1 = db1, pdb2 = db2)
                {
                    if (rms)
                    {
                        ReferenceKernels.RmsNormForward(px, pw, py1, pr1, rows, cols, 1e-5f);
                        NormKernels.Forward(true, px, pw, null, py2, null, pr2, rows, cols, 1e-5f);
                        ReferenceKernels.RmsNormBackward(px, pw, pr1, pdy, pdx1, pdw1, rows, cols);
                        NormKernels.Backward(true, px, pw, null, pr1, pdy, pdx2, pdw2, null, rows, cols);
                    }
                    else
                    {
                        ReferenceKernels.LayerNormForward(px, pw, pb, py1, pm1, pr1, rows, cols, 1e-5f);
                        NormKernels.Forward(false, px, pw, pb, py2, pm2, pr2, rows, cols, 1e-5f);
                        ReferenceKernels.LayerNormBackward(px, pw, pm1, pr1, pdy, pdx1, pdw1, pdb1, rows, cols);
                        NormKernels.Backward(false, px, pw, pm1, pr1, pdy, pdx2, pdw2, pdb2, rows, cols);
                    }
                }
                string what = rms ? "rmsnorm" : "layernorm";
                Close(y1, y2, 1e-5f, what + " forward");
                Close(r1, r2, 1e-5f, what + " rstd");
                Close(dx1, dx2, 2e-5f, what + " dx");
                Close(dw1, dw2, 2e-5f, what + " dweight");
                if (!rms) Close(db1, db2, 2e-5f, what + " dbias");
            }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(129)]
    [InlineData(256)]
    [InlineData(8192)]
    public void Cross_entropy(int vocab)
    {
        int n = 37;
        var x = Rand(n * vocab, vocab);
        var rng = new Random(vocab);
        var targets = Enumerable.Range(0, n).Select(i => i % 7 == 3 ? -100 : rng.Next(vocab)).ToArray();
        float[] d1 = Rand(x.Length, 2), d2 = (float[])d1.Clone(), losses = new float[n];
        int c1 = 0;
        double t1, t2;
        fixed (float* px = x, pd1 = d1, pd2 = d2, pl = losses)
        fixed (int* pt = targets)
        {
            t1 = ReferenceKernels.CrossEntropyForward(px, targets, -100, n, vocab, ref c1);
            t2 = CrossEntropyKernel.Forward(px, pt, -100, n, vocab, pl, out int c2);
            Assert.Equal(c1, c2);
            ReferenceKernels.CrossEntropyBackward(px, targets, -100, pd1, n, vocab, 0.03f);
            CrossEntropyKernel.Backward(px, pt, -100, pd2, n, vocab, 0.03f);
        }
        Assert.True(Math.Abs(t1 - t2) <= 1e-5 * (1 + Math.Abs(t1)), $"loss {t2} vs twin {t1}");
        Close(d1, d2, 1e-6f, "cross-entropy backward");
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Elementwise_activations(int n)
    {
        int[] kinds = [ElementwiseKernels.Exp, ElementwiseKernels.Log, ElementwiseKernels.Tanh, ElementwiseKernels.Sqrt,
            ElementwiseKernels.GeluTanh, ElementwiseKernels.GeluErf, ElementwiseKernels.Silu];
        foreach (int kind in kinds)
        {
            bool positive = kind is ElementwiseKernels.Log or ElementwiseKernels.Sqrt;
            var x = Rand(n, n + kind, positive ? 0.1f : -4f, 4f);
            var dy = Rand(n, n + 100);
            float[] y1 = new float[n], y2 = new float[n], d1 = Rand(n, 3), d2 = (float[])d1.Clone();
            fixed (float* px = x, py1 = y1, py2 = y2, pdy = dy, pd1 = d1, pd2 = d2)
            {
                UnaryKernels.Forward(kind, px, py1, n);
                ElementwiseKernels.Forward(kind, px, py2, n);
                UnaryKernels.Backward(kind, px, py1, pdy, pd1, n);
                ElementwiseKernels.Backward(kind, px, py1, pdy, pd2, n);
            }
            Close(y1, y2, 4e-6f, $"kind {kind} forward");
            Close(d1, d2, 4e-6f, $"kind {kind} backward");
        }
        // SwiGLU: two inputs, two gradients.
        var g = Rand(n, 1); var u = Rand(n, 2); var gy = Rand(n, 3);
        float[] s1 = new float[n], s2 = new float[n], dg1 = new float[n], dg2 = new float[n], du1 = new float[n], du2 = new float[n];
        fixed (float* pg = g, pu = u, pgy = gy, ps1 = s1, ps2 = s2, pdg1 = dg1, pdg2 = dg2, pdu1 = du1, pdu2 = du2)
        {
            UnaryKernels.SwiGluForward(pg, pu, ps1, n);
            ElementwiseKernels.Forward(ElementwiseKernels.SwiGlu, pg, ps2, n, u: pu);
            UnaryKernels.SwiGluBackward(pg, pu, pgy, pdg1, pdu1, n);
            ElementwiseKernels.Backward(ElementwiseKernels.SwiGlu, pg, ps2, pgy, pdg2, n, u: pu, du: pdu2);
        }
        Close(s1, s2, 4e-6f, "swiglu forward");
        Close(dg1, dg2, 4e-6f, "swiglu dgate");
        Close(du1, du2, 4e-6f, "swiglu dup");
    }

    [Fact]
    public void Dropout_matches_its_twin_and_keeps_about_1_minus_p()
    {
        int n = 100_003;
        var x = Rand(n, 1);
        float[] y1 = new float[n], y2 = new float[n];
        fixed (float* px = x, py1 = y1, py2 = y2)
        {
            ReferenceKernels.Dropout(px, py1, n, 0.25f, 99, accumulate: false);
            ElementwiseKernels.Forward(ElementwiseKernels.Dropout, px, py2, n, p: 0.25f, seed: 99);
        }
        Assert.Equal(y1, y2);
        double kept = y2.Count(v => v != 0) / (double)n;
        Assert.InRange(kept, 0.745, 0.755);  // binomial sd 0.0014: ±3.5 sd
    }
}
