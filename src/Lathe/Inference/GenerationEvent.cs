namespace Lathe.Inference;

/// <summary>Why a choice ended. <see cref="Stop"/>: a stop token, a stop string or a complete constrained output;
/// <see cref="Length"/>: max tokens or the context; <see cref="Cancelled"/>: the client went away.</summary>
public enum FinishReason { Stop, Length, Cancelled }

/// <summary>A token and its log-probability under the model.</summary>
public readonly record struct TokenLogprob(int Token, float Logprob);

/// <summary>One step of one choice. A token event carries the id chosen and the text that became final with it
/// (possibly empty while a UTF-8 character or a possible stop string is incomplete); the choice's last event has
/// <see cref="Finish"/> set and may carry text that was held back (<see cref="Token"/> = -1 then). A token that ended
/// the choice (a stop token) is not reported.</summary>
public sealed record GenerationEvent(int Choice, int Token, string Text, FinishReason? Finish = null)
{
    /// <summary>On the last event of a choice that a stop token ended: that token (it is not reported as a token
    /// event; a trainer that replays the choice — PPO, rejection sampling — needs it to end the sequence as the model
    /// did).</summary>
    public int? StopToken { get; init; }

    /// <summary>The chosen token's log-probability, when the request asked for them.</summary>
    public float? Logprob { get; init; }

    /// <summary>The most likely tokens at this step, best first, when the request asked for top log-probabilities.</summary>
    public TokenLogprob[]? TopLogprobs { get; init; }
}
