using Lathe.Tensors;

namespace Lathe.Vision.Layers;

/// <summary>Positions of a 2-D grid of tokens. Learned positions are a model parameter (ViT); the fixed 2-D sine-cosine
/// table is <see cref="SinCos"/> — the formula of MAE (He et al. 2022) and DiT (Peebles &amp; Xie 2023):
/// with D channels, the first D/2 encode the token's grid column j and the last D/2 its grid row i (MAE's
/// <c>meshgrid(w, h)</c> order), each half as [sin(pos·ω_k) for k &lt; D/4, cos(pos·ω_k) for k &lt; D/4] with
/// ω_k = 1/10000^(k/(D/4)) = 1/10000^(2k/(D/2)). Extra tokens (a class token) get all-zero rows in front.</summary>
public static class Positions2d
{
    /// <summary>The fixed table ((extra + gridH·gridW), D) as a plain tensor (no gradient), token t = row t / gridW,
    /// column t % gridW after the <paramref name="extraTokens"/> leading zero rows. D must be a multiple of 4.</summary>
    public static Tensor SinCos(int width, int gridH, int gridW, int extraTokens = 0)
    {
        if (width <= 0 || width % 4 != 0) throw new ArgumentException($"sin-cos positions: width {width} must be a positive multiple of 4");
        if (gridH <= 0 || gridW <= 0 || extraTokens < 0) throw new ArgumentException($"sin-cos positions: grid {gridH}×{gridW}, {extraTokens} extra tokens");
        var table = new float[(extraTokens + gridH * gridW) * width];
        Fill(table.AsSpan(extraTokens * width), width, gridH, gridW);
        return Tensor.FromArray(table, extraTokens + gridH * gridW, width);
    }

    /// <summary>Writes the gridH·gridW rows of the table into <paramref name="dst"/> (computed in double, as MAE's numpy).</summary>
    public static void Fill(Span<float> dst, int width, int gridH, int gridW)
    {
        int quarter = width / 4, half = width / 2;
        for (int i = 0; i < gridH; i++)
            for (int j = 0; j < gridW; j++)
            {
                var row = dst.Slice((i * gridW + j) * width, width);
                for (int k = 0; k < quarter; k++)
                {
                    double omega = 1.0 / Math.Pow(10000.0, (double)k / quarter);
                    row[k] = (float)Math.Sin(j * omega);                   // column
                    row[quarter + k] = (float)Math.Cos(j * omega);
                    row[half + k] = (float)Math.Sin(i * omega);            // row
                    row[half + quarter + k] = (float)Math.Cos(i * omega);
                }
            }
    }
}
