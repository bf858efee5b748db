namespace Lathe.Training;

/// <summary>Where a trainer gets its batches: (B, T) inputs and the same windows shifted by one as targets,
/// from a position that a checkpoint saves and restores.</summary>
public interface IBatchSource
{
    /// <summary>Fills <paramref name="inputs"/> and <paramref name="targets"/> (each B·T, row-major (B, T)).</summary>
    void Next(Span<int> inputs, Span<int> targets, int B, int T);
    /// <summary>The read position (saved in trainer_state.json so a resumed run sees the same batches).</summary>
    long Position { get; set; }
}

/// <summary>Sequential windows over one token stream held in memory: each row takes T+1 tokens, the next row
/// starts T tokens later; at the end the stream wraps to its start. Deterministic and resumable.</summary>
public sealed class TokenStreamSource : IBatchSource
{
    readonly int[] _tokens;
    long _position;

    public TokenStreamSource(int[] tokens, int minimumWindow)
    {
        if (tokens.Length < minimumWindow + 1)
            throw new InvalidDataException($"data: {tokens.Length} tokens is fewer than one window of {minimumWindow + 1}");
        _tokens = tokens;
    }

    public int Length => _tokens.Length;
    public ReadOnlySpan<int> Tokens => _tokens;

    public long Position
    {
        get => _position;
        set
        {
            if (value < 0 || value >= _tokens.Length) throw new InvalidDataException($"data: position {value} is outside the stream of {_tokens.Length} tokens");
            _position = value;
        }
    }

    public void Next(Span<int> inputs, Span<int> targets, int B, int T)
    {
        for (int b = 0; b < B; b++)
        {
            if (_position + T + 1 > _tokens.Length) _position = 0;
            var window = _tokens.AsSpan((int)_position, T + 1);
            window[..T].CopyTo(inputs.Slice(b * T, T));
            window[1..].CopyTo(targets.Slice(b * T, T));
            _position += T;
        }
    }
}
