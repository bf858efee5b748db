namespace Lathe.Vision.Nerf;

/// <summary>NeRF's positional encoding (Mildenhall et al. 2020, eq. 4), applied to each coordinate of a 3-vector:
/// γ(p) = (p, sin(2⁰πp), cos(2⁰πp), …, sin(2^{L−1}πp), cos(2^{L−1}πp)). The input itself is kept as the first three
/// features, as the authors' code does. Per point the layout is [p₀ p₁ p₂, sin(2⁰πp)₀₁₂, cos(2⁰πp)₀₁₂, sin(2¹πp)₀₁₂, …]:
/// 3 + 6L features.</summary>
public static class PositionalEncoding
{
    /// <summary>Features per point for <paramref name="frequencies"/> = L.</summary>
    public static int Width(int frequencies) => 3 + 6 * frequencies;

    /// <summary>Encodes <paramref name="points"/> (n·3 floats) into <paramref name="features"/> (n·(3 + 6L) floats). Each
    /// point is multiplied by <paramref name="scale"/> first (the scene's box mapped to about [−1, 1]). The sines are
    /// taken in double: at 2^{L−1}π·p a float argument would lose the last digits.</summary>
    public static void Encode(ReadOnlySpan<float> points, int frequencies, float scale, Span<float> features)
    {
        int n = points.Length / 3, width = Width(frequencies);
        if (features.Length < n * width) throw new ArgumentException($"PositionalEncoding: {features.Length} floats hold fewer than {n}×{width}");
        for (int i = 0; i < n; i++)
        {
            var f = features.Slice(i * width, width);
            for (int c = 0; c < 3; c++)
            {
                double p = (double)points[i * 3 + c] * scale;
                f[c] = (float)p;
                double freq = Math.PI;
                for (int k = 0; k < frequencies; k++, freq *= 2)
                {
                    var (s, co) = Math.SinCos(freq * p);
                    f[3 + 6 * k + c] = (float)s;
                    f[6 + 6 * k + c] = (float)co;
                }
            }
        }
    }
}
