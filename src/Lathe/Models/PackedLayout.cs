namespace Lathe.Models;

/// <summary>How B rows of T tokens are packed with several examples back to back (sequence packing for fine-tuning):
/// each token's position inside its own example, and the row index where its example starts. Attention lets a token
/// see only keys in [its example's start, itself], and positions restart at 0 for every example, so a packed row
/// computes exactly what each example would alone.</summary>
public sealed class PackedLayout
{
    public PackedLayout(int b, int t)
    {
        B = b; T = t;
        Positions = new int[b * t];
        SegmentStarts = new int[b * t];
    }

    public int B { get; }
    public int T { get; }

    /// <summary>(B, T): the token's position within its example (0 at each example's first token).</summary>
    public int[] Positions { get; }

    /// <summary>(B, T): the index within the row (0 … T−1) of the first token of the token's example; equals
    /// t − Positions[b, t]. Padding after the last example is its own segment.</summary>
    public int[] SegmentStarts { get; }
}
