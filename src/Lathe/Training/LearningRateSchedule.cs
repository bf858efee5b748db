namespace Lathe.Training;

/// <summary>Linear warm-up to the peak rate, then cosine decay to <c>minFraction</c>·peak at the last step.</summary>
public readonly record struct LearningRateSchedule(float Peak, int WarmupSteps, int TotalSteps, float MinFraction = 0.1f)
{
    /// <summary>The rate for update number <paramref name="step"/> (1-based).</summary>
    public float At(int step)
    {
        if (WarmupSteps > 0 && step <= WarmupSteps) return Peak * step / WarmupSteps;
        int decaySteps = Math.Max(1, TotalSteps - WarmupSteps);
        double progress = Math.Clamp((double)(step - WarmupSteps) / decaySteps, 0, 1);
        double cosine = 0.5 * (1 + Math.Cos(Math.PI * progress));
        return (float)(Peak * (MinFraction + (1 - MinFraction) * cosine));
    }
}
