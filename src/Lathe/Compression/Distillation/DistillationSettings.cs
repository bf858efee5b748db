using Lathe.Models;

namespace Lathe.Compression.Distillation;

/// <summary>What every distillation objective checks and does alike: α and T in range, and the teacher frozen.</summary>
internal static class DistillationSettings
{
    /// <summary><paramref name="alpha"/>, the weight of the KD term, when it is in [0, 1].</summary>
    public static float Alpha(float alpha) =>
        alpha is >= 0f and <= 1f ? alpha : throw new ArgumentException($"distillation: --alpha {alpha} must be in [0, 1]");

    /// <summary><paramref name="temperature"/> when it is finite and positive.</summary>
    public static float Temperature(float temperature) =>
        temperature > 0f && float.IsFinite(temperature) ? temperature : throw new ArgumentException($"distillation: --temperature {temperature} must be finite and > 0");

    /// <summary>No parameter of <paramref name="teacher"/> asks for a gradient, so nothing of its forward is kept for a
    /// backward and no gradient buffer stays allocated.</summary>
    public static T Freeze<T>(T teacher) where T : LanguageModel
    {
        ArgumentNullException.ThrowIfNull(teacher);
        foreach (var p in teacher.Parameters) { p.Value.RequiresGrad = false; p.Value.ReleaseGrad(); }
        return teacher;
    }
}
