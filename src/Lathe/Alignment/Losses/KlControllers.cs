namespace Lathe.Alignment;

/// <summary>The coefficient β of PPO's per-token KL penalty r_t − β·KL_t, updated once per rollout batch.</summary>
public interface IKlController
{
    /// <summary>The current coefficient. Its float value is the whole state: save it, and a controller rebuilt with it
    /// continues bit for bit.</summary>
    float Value { get; }

    /// <summary>Updates the coefficient from the batch's mean KL measured over <paramref name="steps"/> samples.</summary>
    void Update(float currentKl, int steps);
}

/// <summary>A constant coefficient.</summary>
public sealed class FixedKlController(float value) : IKlController
{
    public float Value { get; } = float.IsFinite(value) && value >= 0f ? value
        : throw new ArgumentException($"FixedKlController: value = {value} must be finite and ≥ 0.");

    public void Update(float currentKl, int steps) { }
}

/// <summary>Ziegler et al. 2019 (§2.2): e = clip(KL/target − 1, −0.2, 0.2), β ← β·(1 + e·steps/horizon). β grows
/// while the policy drifts further than the target KL and shrinks while it stays closer. TRL's AdaptiveKLController.</summary>
public sealed class AdaptiveKlController : IKlController
{
    public AdaptiveKlController(float initial, float target, int horizon)
    {
        if (!(initial >= 0f && float.IsFinite(initial))) throw new ArgumentException($"AdaptiveKlController: initial = {initial} must be finite and ≥ 0.");
        if (!(target > 0f && float.IsFinite(target))) throw new ArgumentException($"AdaptiveKlController: target = {target} must be finite and > 0.");
        if (horizon < 1) throw new ArgumentException($"AdaptiveKlController: horizon = {horizon} must be ≥ 1.");
        Value = initial;
        Target = target;
        Horizon = horizon;
    }

    public float Value { get; private set; }
    public float Target { get; }
    public int Horizon { get; }

    public void Update(float currentKl, int steps)
    {
        if (!float.IsFinite(currentKl)) throw new ArgumentException($"AdaptiveKlController.Update: currentKl = {currentKl} is not finite.");
        if (steps < 0) throw new ArgumentException($"AdaptiveKlController.Update: steps = {steps} must be ≥ 0.");
        double error = Math.Clamp((double)currentKl / Target - 1.0, -0.2, 0.2);
        Value = (float)(Value * (1.0 + error * steps / Horizon));
    }
}
