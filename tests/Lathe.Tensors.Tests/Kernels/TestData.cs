namespace Lathe.Tensors.Tests.Kernels;

/// <summary>Seeded uniform test inputs shared by the kernel tests.</summary>
internal static class TestData
{
    public static float[] Uniform(long n, int seed, float lo = -1f, float hi = 1f)
    {
        var r = new Random(seed);
        var a = new float[n];
        for (long i = 0; i < n; i++) a[i] = lo + (float)(r.NextDouble() * (hi - lo));
        return a;
    }
}
