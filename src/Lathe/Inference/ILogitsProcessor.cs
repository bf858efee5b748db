namespace Lathe.Inference;

/// <summary>The one hook through which anything that shapes the next-token distribution plugs into sampling: grammar
/// and JSON-schema masks, tool-call constraints, knowledge-graph constraints. One instance follows one sequence (one
/// choice of one request): <see cref="Process"/> sees the logits before the sampler's own stages (bias, penalties,
/// top-k, top-p, min-p, temperature), <see cref="Accept"/> is told the token that was chosen.</summary>
/// <remarks>A processor forbids a token by setting its logit to <see cref="float.NegativeInfinity"/>. It decides whether
/// the sequence may end: the stop tokens it is given at construction (end of sequence, end of turn) must be masked
/// while the text so far is not complete, and should be the only tokens left once <see cref="IsComplete"/>. The
/// scheduler ends a sequence whose processor reports <see cref="IsComplete"/> after <see cref="Accept"/> with finish
/// reason "stop", without asking the model for another token.</remarks>
public interface ILogitsProcessor
{
    /// <summary>Adjusts <paramref name="logits"/> (length V) in place for the next token.</summary>
    void Process(Span<float> logits);

    /// <summary>Advances the processor's state by the chosen <paramref name="token"/>.</summary>
    void Accept(int token);

    /// <summary>True when the output so far is complete and nothing more may follow (a JSON value closed).</summary>
    bool IsComplete { get; }
}
