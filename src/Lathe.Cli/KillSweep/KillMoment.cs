using System.Globalization;
using Lathe.IO;
using Lathe.Tensors;

namespace Lathe.Cli.KillSweep;

/// <summary>Where a sweep kills a run: at a random time, or paused at the N-th passage of a kill point (inside a
/// checkpoint's swap, an evaluation, an atomic write); then possibly once more, at a random time of the resumed run.</summary>
internal sealed record KillMoment(TimeSpan? After, string? Point, int Occurrence, TimeSpan? AgainAfter)
{
    /// <summary>"NAME:N" for <see cref="KillPoints.PauseVariable"/>, or null for a timed kill.</summary>
    public string? PauseAt => Point is null ? null : string.Create(CultureInfo.InvariantCulture, $"{Point}:{Occurrence}");

    public override string ToString() =>
        (Point is null ? string.Create(CultureInfo.InvariantCulture, $"at {After!.Value.TotalSeconds:F2} s") : $"in {Point} #{Occurrence}") +
        (AgainAfter is { } a ? string.Create(CultureInfo.InvariantCulture, $", again at {a.TotalSeconds:F2} s into the resume") : "");

    /// <summary>The kill points aimed at, in the order a sweep's first moments take them (each that its reference run
    /// passed at least once).</summary>
    public static readonly string[] Targets = [KillPoints.CheckpointSwap, KillPoints.Evaluation, KillPoints.CheckpointDone, KillPoints.CheckpointWrite, KillPoints.FileWrite,
        KillPoints.CheckpointCleanup];

    /// <summary><paramref name="count"/> moments for a run of <paramref name="seconds"/> that passed each kill point
    /// <paramref name="passes"/> times: the first at a random time, the next at each target point passed, the rest at
    /// random times; a third of the timed ones kill the resumed run again. Random times fall between half the time of
    /// the first kill point (<paramref name="firstPoint"/>: before it a run is still starting, which a few moments
    /// cover) and the end. Seeded: the same seed, the same plan.</summary>
    public static List<KillMoment> Plan(int count, ulong seed, double seconds, double firstPoint, IReadOnlyDictionary<string, int> passes)
    {
        double start = double.IsFinite(firstPoint) ? 0.5 * firstPoint / seconds : 0.05;
        var rng = new Philox(seed);
        var targets = Targets.Where(t => passes.GetValueOrDefault(t) > 0).ToList();
        var plan = new List<KillMoment>(count);
        TimeSpan Random(double lo, double hi) => TimeSpan.FromSeconds(seconds * (lo + (hi - lo) * rng.NextFloat()));
        for (int i = 0; i < count; i++)
        {
            if (i >= 1 && i <= targets.Count)
            {
                string point = targets[i - 1];
                plan.Add(new KillMoment(null, point, 1 + rng.NextInt(passes[point]), null));
            }
            else
            {
                var first = Random(start, 0.97);
                plan.Add(new KillMoment(first, null, 0, rng.NextInt(3) == 0 ? Random(start, 0.9) : null));
            }
        }
        return plan;
    }
}
