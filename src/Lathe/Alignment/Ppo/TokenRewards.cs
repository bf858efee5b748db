namespace Lathe.Alignment;

/// <summary>PPO's per-token rewards over a (B, T) grid of response tokens (row b holds rollout b's response from
/// position 0; the mask is 1 on its tokens): −β·KL_t on every response token, plus the sequence's score on its last
/// one (TRL's PPO: non_score_reward = −kl_coef·kl; rewards[actual_end] += scores). A response that never produced a
/// stop token has the missing-EOS penalty taken off its score first. With whitening, the rewards are scaled by their
/// masked standard deviation, the mean kept (TRL's whiten_rewards: masked_whiten(…, shift_mean=False)).</summary>
public static class TokenRewards
{
    /// <param name="kl">Per-token KL estimates (B·T); read only where the mask is 1.</param>
    /// <param name="scores">The reward function's score per rollout (B).</param>
    /// <param name="ended">Whether each response ended with a stop token (B).</param>
    /// <param name="penalised">Receives each rollout's score after the missing-EOS penalty (B).</param>
    public static void Assemble(ReadOnlySpan<float> kl, ReadOnlySpan<float> mask, int B, int T, ReadOnlySpan<float> scores,
        ReadOnlySpan<bool> ended, float klCoef, float? missingEosPenalty, bool whiten, Span<float> rewards, Span<float> penalised)
    {
        int n = checked(B * T);
        if (kl.Length != n || mask.Length != n || rewards.Length != n)
            throw new ArgumentException($"TokenRewards: kl ({kl.Length}), mask ({mask.Length}) and rewards ({rewards.Length}) must hold B·T = {n} values.");
        if (scores.Length != B || ended.Length != B || penalised.Length != B)
            throw new ArgumentException($"TokenRewards: scores ({scores.Length}), ended ({ended.Length}) and penalised ({penalised.Length}) must hold B = {B} values.");
        for (int b = 0; b < B; b++)
        {
            if (!float.IsFinite(scores[b])) throw new ArgumentException($"TokenRewards: the score of rollout {b} is {scores[b]}.");
            float score = scores[b];
            if (!ended[b] && missingEosPenalty is { } penalty) score -= penalty;
            penalised[b] = score;
            int last = -1;
            for (int t = 0; t < T; t++)
            {
                int i = b * T + t;
                if (mask[i] == 0f) { rewards[i] = 0f; continue; }
                rewards[i] = -klCoef * kl[i];
                last = i;
            }
            if (last < 0) throw new ArgumentException($"TokenRewards: rollout {b} has no response token.");
            rewards[last] += score;
        }
        if (whiten) Advantages.Whiten(rewards, mask, shiftMean: false);
    }
}
