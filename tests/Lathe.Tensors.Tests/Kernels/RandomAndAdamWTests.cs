using Lathe.Tensors.Kernels;

namespace Lathe.Tensors.Tests.Kernels;

public unsafe class RandomAndAdamWTests
{
    // Known-answer vectors of Philox-4×32-10 published with Random123 (kat_vectors).
    [Theory]
    [InlineData(0u, 0u, 0u, 0u, 0u, 0u, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u)]
    [InlineData(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu)]
    [InlineData(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u)]
    public void Philox_matches_the_published_known_answers(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1, uint e0, uint e1, uint e2, uint e3)
    {
        Philox.Block(c0, c1, c2, c3, k0, k1, out uint r0, out uint r1, out uint r2, out uint r3);
        Assert.Equal([e0, e1, e2, e3], new[] { r0, r1, r2, r3 });
    }

    [Fact]
    public void Philox_state_round_trips_mid_block()
    {
        var a = new Philox(42);
        for (int i = 0; i < 7; i++) a.NextUInt();
        var (seed, counter, used) = a.State;
        var b = Philox.FromState(seed, counter, used);
        for (int i = 0; i < 20; i++) Assert.Equal(a.NextUInt(), b.NextUInt());
    }

    [Fact]
    public void Normals_have_the_right_moments()
    {
        var r = new Philox(7);
        var x = new float[200_000];
        r.FillNormal(x);
        double mean = x.Average(), var = x.Select(v => (v - mean) * (v - mean)).Average();
        Assert.InRange(mean, -0.01, 0.01);     // 4.5 standard errors of the mean
        Assert.InRange(var, 0.985, 1.015);
    }

    [Fact]
    public void AdamW_vector_path_matches_its_scalar_twin_and_a_double_reference()
    {
        for (int n = 0; n <= 256; n++)
        {
            var rng = new System.Random(n);
            float[] Rand() => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
            float[] p = Rand(), g = Rand(), m = Rand().Select(Math.Abs).Select(v => v * 0.1f).ToArray(), v = m.Select(x => x * x).ToArray();
            float[] p2 = (float[])p.Clone(), m2 = (float[])m.Clone(), v2 = (float[])v.Clone();
            const float lr = 1e-3f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f;
            const int step = 3;
            fixed (float* pp = p, pg = g, pm = m, pv = v, pp2 = p2, pm2 = m2, pv2 = v2)
            {
                AdamW.Step(pp, pg, pm, pv, n, lr, b1, b2, eps, wd, step);
                AdamW.StepScalar(pp2, pg, pm2, pv2, n, lr, b1, b2, eps, wd, 1f / (1f - MathF.Pow(b1, step)), 1f / (1f - MathF.Pow(b2, step)));
            }
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(p2[i], p[i], 6);
                Assert.Equal(m2[i], m[i], 7);
                Assert.Equal(v2[i], v[i], 7);
            }
        }
    }

    [Fact]
    public void AdamW_step_matches_the_formula_in_double()
    {
        float[] p = [0.5f, -1f], g = [0.2f, -0.3f], m = [0.01f, 0.02f], v = [0.001f, 0.002f];
        double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.01;
        int t = 5;
        var expected = new double[2];
        for (int i = 0; i < 2; i++)
        {
            double mi = b1 * m[i] + (1 - b1) * g[i], vi = b2 * v[i] + (1 - b2) * g[i] * g[i];
            double mh = mi / (1 - Math.Pow(b1, t)), vh = vi / (1 - Math.Pow(b2, t));
            expected[i] = p[i] - lr * (mh / (Math.Sqrt(vh) + eps) + wd * p[i]);
        }
        fixed (float* pp = p, pg = g, pm = m, pv = v)
            AdamW.Step(pp, pg, pm, pv, 2, (float)lr, (float)b1, (float)b2, (float)eps, (float)wd, t);
        Assert.Equal(expected[0], p[0], 5);
        Assert.Equal(expected[1], p[1], 5);
    }
}
