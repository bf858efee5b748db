namespace Lathe.Models;

/// <summary>The checks a decoder makes on a <see cref="PackedLayout"/> before running packed rows, so a malformed layout
/// fails with a line naming the token instead of silently mixing examples or reading past a position table.</summary>
internal static class PackedRows
{
    public static void Check(PackedLayout layout, int B, int T, ModelConfig config)
    {
        string who = config.ModelType;
        if (layout.B != B || layout.T != T)
            throw new ArgumentException($"{who}: packed layout of (B, T) = ({layout.B}, {layout.T}) for embeddings of ({B}, {T}).");
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
            {
                int i = b * T + t, position = layout.Positions[i], start = layout.SegmentStarts[i];
                if ((uint)start > (uint)t || position != t - start)
                    throw new ArgumentException($"{who}: packed layout row {b} token {t}: segment start {start} and position {position} (need 0 ≤ start ≤ {t} and position = {t} − start).");
                if (position >= config.MaxPositions)
                    throw new ArgumentException($"{who}: packed layout row {b} token {t}: position {position} exceeds the context of {config.MaxPositions}.");
            }
    }
}
