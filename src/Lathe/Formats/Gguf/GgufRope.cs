using Lathe.Models;
namespace Lathe.Formats;

/// <summary>The row order of q/k projections in llama-architecture GGUF files.</summary>
/// <remarks>ggml's RoPE for the llama architecture (rope type "norm") rotates adjacent pairs (x[2j], x[2j+1]) of each
/// head by θ_j = pos·base^(−2j/D); Hugging Face's Llama rotates (x[j], x[j+D/2]) (rotate_half) by the same θ_j.
/// llama.cpp's HF→GGUF converter therefore permutes the output rows of attn_q and attn_k within every head — numpy
/// <c>w.reshape(H, 2, D/2, in).swapaxes(1, 2).reshape(w.shape)</c>, with H the kv head count for attn_k — so that
/// ggml row h·D + 2j + i holds HF row h·D + i·D/2 + j (i ∈ {0, 1}, j &lt; D/2). Lathe's model uses rotate_half, so
/// loading applies the inverse and exporting applies the permutation.</remarks>
public static class GgufRope
{
    /// <summary>HF row index for ggml row <paramref name="ggmlRow"/> of a projection with head dim <paramref name="D"/>.</summary>
    public static int HfRowOf(int ggmlRow, int D)
    {
        int h = ggmlRow / D, r = ggmlRow % D;
        return h * D + (r & 1) * (D / 2) + (r >> 1);
    }

    /// <summary>ggml (adjacent-pair) row order → HF (rotate_half) row order, for float rows of <paramref name="cols"/>.</summary>
    public static float[] UnpermuteRows(float[] ggml, int rows, int cols, int heads) => Reorder(ggml, rows, cols, heads, toHf: true);

    /// <summary>HF row order → ggml row order (what llama.cpp's converter writes).</summary>
    public static float[] PermuteRows(float[] hf, int rows, int cols, int heads) => Reorder(hf, rows, cols, heads, toHf: false);

    /// <summary>As <see cref="UnpermuteRows(float[], int, int, int)"/> for rows of encoded bytes (any ggml type:
    /// a row is a whole number of blocks).</summary>
    public static byte[] UnpermuteRows(byte[] ggml, int rows, int rowBytes, int heads) => Reorder(ggml, rows, rowBytes, heads, toHf: true);

    /// <summary>As <see cref="PermuteRows(float[], int, int, int)"/> for rows of encoded bytes.</summary>
    public static byte[] PermuteRows(byte[] hf, int rows, int rowBytes, int heads) => Reorder(hf, rows, rowBytes, heads, toHf: false);

    static T[] Reorder<T>(T[] src, int rows, int rowLength, int heads, bool toHf)
    {
        if (heads <= 0 || rows % heads != 0 || (rows / heads) % 2 != 0)
            throw new ArgumentException($"RoPE row permutation: {rows} rows do not split into {heads} heads of even size.");
        if (src.Length != (long)rows * rowLength) throw new ArgumentException($"RoPE row permutation: {src.Length} values are not {rows} rows of {rowLength}.");
        int D = rows / heads;
        var dst = new T[src.Length];
        for (int g = 0; g < rows; g++)
        {
            int hf = HfRowOf(g, D);
            int from = toHf ? g : hf, to = toHf ? hf : g;
            Array.Copy(src, (long)from * rowLength, dst, (long)to * rowLength, rowLength);
        }
        return dst;
    }
}
