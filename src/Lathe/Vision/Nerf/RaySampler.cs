using Lathe.Tensors;

namespace Lathe.Vision.Nerf;

/// <summary>Points along rays for volume rendering: stratified sampling (Mildenhall et al. 2020, eq. 2) splits
/// [near, far] into S equal bins and draws one distance uniformly in each, t_i = near + (i + u_i)(far − near)/S; at
/// evaluation u_i = ½ (the bin centres). The spacing δ_i = t_{i+1} − t_i, and δ_{S−1} = far − t_{S−1}.</summary>
public static class RaySampler
{
    /// <summary>Samples S distances on each of the R rays (<paramref name="origins"/>, <paramref name="directions"/>: R·3
    /// floats, unit directions) and writes distances and spacings (R·S each) and points o + t·d (R·S·3), ray-major.
    /// <paramref name="rng"/> null takes the bin centres.</summary>
    public static void Sample(ReadOnlySpan<float> origins, ReadOnlySpan<float> directions, int samples, float near, float far,
        Philox? rng, Span<float> distances, Span<float> deltas, Span<float> points)
    {
        int rays = origins.Length / 3;
        float bin = (far - near) / samples;
        for (int r = 0; r < rays; r++)
        {
            var t = distances.Slice(r * samples, samples);
            for (int i = 0; i < samples; i++) t[i] = near + (i + (rng is null ? 0.5f : rng.NextFloat())) * bin;
            var d = deltas.Slice(r * samples, samples);
            for (int i = 0; i < samples - 1; i++) d[i] = t[i + 1] - t[i];
            d[samples - 1] = far - t[samples - 1];
            float ox = origins[r * 3], oy = origins[r * 3 + 1], oz = origins[r * 3 + 2];
            float dx = directions[r * 3], dy = directions[r * 3 + 1], dz = directions[r * 3 + 2];
            var p = points.Slice(r * samples * 3, samples * 3);
            for (int i = 0; i < samples; i++)
            {
                p[i * 3] = ox + t[i] * dx; p[i * 3 + 1] = oy + t[i] * dy; p[i * 3 + 2] = oz + t[i] * dz;
            }
        }
    }
}
