using System.Globalization;

namespace Lathe.Evaluation.Levels;

/// <summary>Why a task of the results does or does not count.</summary>
public enum TaskStanding
{
    /// <summary>Compared with its human anchors; its level counts for its family.</summary>
    Assessed,
    /// <summary>The reference table has no entry for the task: listed, never guessed.</summary>
    NoReference,
    /// <summary>The reference names a metric the results lack (or hold as null).</summary>
    MetricMissing,
}

/// <summary>One task's evidence: its score on the reference metric, the chance level used, and the level reached.</summary>
public sealed record TaskAssessment(string Task, TaskStanding Standing, TaskReference? Reference, TaskFigures Figures, MetricFigure? Score,
    double? Chance, bool AtChance, PerformanceLevel Level);

/// <summary>A family's level: the lower median of its assessed tasks' levels.</summary>
public sealed record FamilyAssessment(TaskFamily Family, IReadOnlyList<TaskAssessment> Tasks, PerformanceLevel Level);

/// <summary>Places a model in the performance × generality matrix of Morris et al. (2023) from a results document and
/// a reference table. The rules, each chosen to be conservative — a small model must show as what it is:
/// <list type="number">
/// <item><b>Task.</b> The score on the reference's metric is at chance when it does not beat the chance level by more
/// than <see cref="ChanceZ"/> standard errors (the lower end of a ~95% interval reaches chance): Level 0. Otherwise the
/// level is that of the highest anchor the point score meets (≥, or ≤ for lower-is-better metrics): unskilled → 1,
/// 50th percentile → 2, 90th → 3, 99th → 4; Level 5 only when the score strictly beats the best person. Below the
/// unskilled anchor: Level 0.</item>
/// <item><b>Family.</b> The lower median of its tasks' levels (of two tasks, the weaker), so one lucky task does not
/// lift a family.</item>
/// <item><b>Generality.</b> General only if at least <see cref="MinimumFamiliesForGeneral"/> families were assessed and
/// more than half of them reach Level ≥ 1; otherwise Narrow.</item>
/// <item><b>Overall level.</b> General: the highest level that more than half of the families reach (the paper rates a
/// general system by what it does on most tasks). Narrow: the best family's level — the system's narrow
/// specialty.</item>
/// </list>
/// Tasks the reference table does not know are listed as "no reference" and count for nothing.</summary>
public sealed class LevelsAssessment
{
    /// <summary>Standard errors a score must clear above chance to count as better than chance.</summary>
    public const double ChanceZ = 2.0;

    /// <summary>Families a suite must cover before a model can be called General.</summary>
    public const int MinimumFamiliesForGeneral = 4;

    public ResultsDocument Results { get; }
    public ReferenceTable References { get; }
    public IReadOnlyList<TaskAssessment> Tasks { get; }
    public IReadOnlyList<FamilyAssessment> Families { get; }
    public Generality Generality { get; }
    public PerformanceLevel Level { get; }
    /// <summary>The rule applied to reach <see cref="Generality"/>, with the counts.</summary>
    public string GeneralityReason { get; }
    /// <summary>The rule applied to reach <see cref="Level"/>, with the families involved.</summary>
    public string LevelReason { get; }

    LevelsAssessment(ResultsDocument results, ReferenceTable references, IReadOnlyList<TaskAssessment> tasks, IReadOnlyList<FamilyAssessment> families,
        Generality generality, PerformanceLevel level, string generalityReason, string levelReason)
    {
        (Results, References, Tasks, Families, Generality, Level, GeneralityReason, LevelReason) =
            (results, references, tasks, families, generality, level, generalityReason, levelReason);
    }

    /// <summary>The matrix cell's name ("Emerging Narrow AI").</summary>
    public string Cell => LevelsOfAgi.CellName(Level, Generality);

    /// <summary>Applies the rules (see the class summary) to every task of <paramref name="results"/>.</summary>
    public static LevelsAssessment Assess(ResultsDocument results, ReferenceTable references)
    {
        var tasks = results.Tasks.Select(t => AssessTask(t, references)).ToList();
        var families = references.Families.Values
            .Select(family => (family, members: tasks.Where(t => t.Standing == TaskStanding.Assessed && t.Reference!.Family == family.Name).ToList()))
            .Where(x => x.members.Count > 0)
            .Select(x => new FamilyAssessment(x.family, x.members, LowerMedian(x.members.Select(t => t.Level))))
            .ToList();

        int assessed = families.Count, reaching = families.Count(f => f.Level >= PerformanceLevel.Emerging);
        bool general = assessed >= MinimumFamiliesForGeneral && 2 * reaching > assessed;
        string generalityReason = assessed < MinimumFamiliesForGeneral
            ? $"{assessed} task {Plural(assessed, "family", "families")} assessed; General needs at least {MinimumFamiliesForGeneral}, with more than half at Level 1 or above"
            : $"{reaching} of {assessed} task families reach Level 1 or above; General needs more than half";

        PerformanceLevel level;
        string levelReason;
        if (assessed == 0)
        {
            level = PerformanceLevel.NoAi;
            levelReason = "no task in the results has a human reference, so nothing places the model above Level 0";
        }
        else if (general)
        {
            // The highest L that a strict majority of families reach.
            level = Enum.GetValues<PerformanceLevel>().Where(l => 2 * families.Count(f => f.Level >= l) > assessed).Max();
            levelReason = $"a general system is rated by most of its tasks: more than half of the families reach Level {(int)level} ({LevelsOfAgi.Name(level)})";
        }
        else
        {
            level = families.Max(f => f.Level);
            var best = families.Where(f => f.Level == level).Select(f => f.Family.Title).ToList();
            levelReason = level == PerformanceLevel.NoAi
                ? "no task family beats chance and the unskilled-human anchor"
                : $"a narrow system is rated on its specialty: {string.Join(", ", best)} at Level {(int)level} ({LevelsOfAgi.Name(level)})";
        }
        return new LevelsAssessment(results, references, tasks, families, general ? Generality.General : Generality.Narrow, level, generalityReason, levelReason);
    }

    static TaskAssessment AssessTask(TaskFigures figures, ReferenceTable references)
    {
        if (!references.Tasks.TryGetValue(figures.Name, out var reference))
            return new TaskAssessment(figures.Name, TaskStanding.NoReference, null, figures, null, figures.Chance, false, PerformanceLevel.NoAi);
        if (!figures.Metrics.TryGetValue(reference.Metric, out var score) || score.Value is null)
            return new TaskAssessment(figures.Name, TaskStanding.MetricMissing, reference, figures, null, figures.Chance ?? reference.Chance, false, PerformanceLevel.NoAi);
        // The results' chance is measured on the documents actually scored; the table's is the fallback.
        double? chance = figures.Chance ?? reference.Chance;
        double value = score.Value.Value, margin = ChanceZ * (score.Stderr ?? 0);
        bool atChance = chance is double c && (reference.HigherIsBetter ? value - margin <= c : value + margin >= c);
        var level = atChance ? PerformanceLevel.NoAi : LevelOf(value, reference);
        return new TaskAssessment(figures.Name, TaskStanding.Assessed, reference, figures, score, chance, atChance, level);
    }

    /// <summary>The level a score reaches against a task's anchors alone (chance not considered).</summary>
    public static PerformanceLevel LevelOf(double value, TaskReference reference)
    {
        bool Meets(double anchor) => reference.HigherIsBetter ? value >= anchor : value <= anchor;
        bool Beats(double anchor) => reference.HigherIsBetter ? value > anchor : value < anchor;
        if (Beats(reference[Anchor.Best].Value)) return PerformanceLevel.Superhuman;
        for (var a = Anchor.P99; a >= Anchor.Unskilled; a--)
            if (Meets(reference[a].Value)) return (PerformanceLevel)((int)a + 1);
        return PerformanceLevel.NoAi;
    }

    static PerformanceLevel LowerMedian(IEnumerable<PerformanceLevel> levels)
    {
        var sorted = levels.Order().ToList();
        return sorted[(sorted.Count - 1) / 2];
    }

    static string Plural(int n, string one, string many) => n == 1 ? one : many;

    /// <summary>How many anchors of the assessed tasks are assumptions, of how many.</summary>
    public (int Assumed, int Total) AnchorProvenance
    {
        get
        {
            var used = Tasks.Where(t => t.Standing == TaskStanding.Assessed).Select(t => t.Reference!).ToList();
            return (used.Sum(r => r.Assumptions), used.Count * 5);
        }
    }

    /// <summary>The verdict in plain language: the cell, why, and how far to trust it.</summary>
    public string Verdict
    {
        get
        {
            string model = Results.Model.Source ?? "The model";
            var inv = CultureInfo.InvariantCulture;
            var s = new List<string>
            {
                string.Create(inv, $"{model} sits at Level {(int)Level} ({LevelsOfAgi.Name(Level)}), {Generality.ToString().ToLowerInvariant()}: the cell “{Cell}” of the Levels-of-AGI matrix."),
                char.ToUpperInvariant(LevelReason[0]) + LevelReason[1..] + "; " + GeneralityReason + ".",
            };
            int noReference = Tasks.Count(t => t.Standing == TaskStanding.NoReference), missing = Tasks.Count(t => t.Standing == TaskStanding.MetricMissing);
            if (noReference > 0) s.Add($"{noReference} {Plural(noReference, "task has", "tasks have")} no human reference and {Plural(noReference, "is", "are")} not counted.");
            if (missing > 0) s.Add($"{missing} {Plural(missing, "task lacks", "tasks lack")} the metric {Plural(missing, "its", "their")} reference compares and {Plural(missing, "is", "are")} not counted.");
            var (assumed, total) = AnchorProvenance;
            if (total > 0)
                s.Add($"{assumed} of the {total} human anchors behind this verdict are assumptions rather than measured figures, so each level is a rough placement, not a measurement.");
            s.Add($"The suite holds {Families.Count} assessed task {Plural(Families.Count, "family", "families")} of short text tasks and no metacognitive ones (learning a new skill, knowing what it does not know), so it cannot show the breadth the paper asks of an AGI; a General verdict here means broad on this suite only.");
            return string.Join(" ", s);
        }
    }
}
