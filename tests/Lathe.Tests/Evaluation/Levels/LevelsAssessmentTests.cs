using Lathe.Evaluation.Levels;
using static Lathe.Tests.Evaluation.Levels.LevelsFixtures;

namespace Lathe.Tests.Evaluation.Levels;

/// <summary>The rules of <see cref="LevelsAssessment"/> on hand-made results documents against the built-in reference
/// table, each expected level worked out by hand from data/levels/references.json (the anchors are quoted in the
/// comments): a chance-level model is Level 0; a perfect model on one family is Narrow; breadth makes General only with
/// four families and a majority of them above Level 0.</summary>
public class LevelsAssessmentTests
{
    static LevelsAssessment Assess(params Row[] rows) => LevelsAssessment.Assess(Results("runs/test", rows), BuiltIn);

    static PerformanceLevel TaskLevel(LevelsAssessment a, string task) => a.Tasks.Single(t => t.Task == task).Level;

    static PerformanceLevel FamilyLevel(LevelsAssessment a, string family) => a.Families.Single(f => f.Family.Name == family).Level;

    [Fact]
    public void A_model_at_chance_is_level_0_everywhere()
    {
        // 4-choice accuracies within 2 stderr of 0.25, spam within 2 stderr of 0.5, nothing generated right, bits per
        // byte just under the 8 of a uniform byte model (not at chance, but far above the unskilled anchor of 2.5).
        var a = Assess(Suite(capital: 0.26, currency: 0.24, language: 0.25, element: 0.27, wordnet: 0.25, lambada: 0, bpb: 7.9, arithmetic: 0, spam: 0.51));
        Assert.All(a.Tasks, t => Assert.Equal((TaskStanding.Assessed, PerformanceLevel.NoAi), (t.Standing, t.Level)));
        Assert.All(a.Families, f => Assert.Equal(PerformanceLevel.NoAi, f.Level));
        Assert.Equal(4, a.Families.Count);
        Assert.Equal((PerformanceLevel.NoAi, Generality.Narrow, "Narrow Non-AI"), (a.Level, a.Generality, a.Cell));
        Assert.True(a.Tasks.Single(t => t.Task == "country_capital").AtChance);
        Assert.True(a.Tasks.Single(t => t.Task == "element_symbol").AtChance);    // 0.27 − 2·0.01 = 0.25: reaches chance
        Assert.True(a.Tasks.Single(t => t.Task == "spam_ham").AtChance);
        Assert.False(a.Tasks.Single(t => t.Task == "bpb_moby").AtChance);          // 7.9 + 0.02 < 8
        Assert.Contains("Level 0", a.Verdict);
        Assert.Contains("45 of the 45 human anchors", a.Verdict);
    }

    [Fact]
    public void A_perfect_model_on_one_family_only_is_narrow()
    {
        var a = Assess(Suite(capital: 1, currency: 1, language: 1, element: 1, wordnet: 0.25, lambada: 0, bpb: 7.9, arithmetic: 0, spam: 0.5));
        // 1.0 meets every p99 anchor of the family (0.99, 0.97, 0.98, 1.0) but beats no best anchor (all 1.0): Virtuoso.
        Assert.Equal(PerformanceLevel.Virtuoso, FamilyLevel(a, "world_knowledge"));
        Assert.Equal(PerformanceLevel.NoAi, FamilyLevel(a, "language"));
        Assert.Equal((PerformanceLevel.Virtuoso, Generality.Narrow, "Virtuoso Narrow AI"), (a.Level, a.Generality, a.Cell));
        Assert.Contains("1 of 4 task families", a.GeneralityReason);
        Assert.Contains("World knowledge at Level 4", a.LevelReason);
    }

    [Fact]
    public void Broad_competence_over_four_families_is_general_at_the_majority_level()
    {
        // world knowledge: 0.85 ≥ 0.80, 0.72 ≥ 0.70, 0.80 ≥ 0.75, 0.90 ≥ 0.85 (all p50, none p90) → 2
        // language: wordnet 0.93 ≥ p90 0.92 → 3, lambada 0.12 ≥ unskilled 0.10 → 1, bpb 1.5 ≤ p50 1.6 but > p90 1.45 → 2;
        //           lower median of {1, 2, 3} → 2
        // arithmetic 0.96 ≥ p50 0.95 → 2; spam 0.97 ≥ p90 0.96 → 3
        var a = Assess(Suite(capital: 0.85, currency: 0.72, language: 0.80, element: 0.90, wordnet: 0.93, lambada: 0.12, bpb: 1.5, arithmetic: 0.96, spam: 0.97));
        Assert.Equal(PerformanceLevel.Expert, TaskLevel(a, "wordnet_definition"));
        Assert.Equal(PerformanceLevel.Emerging, TaskLevel(a, "lambada_moby"));
        Assert.Equal(PerformanceLevel.Competent, TaskLevel(a, "bpb_moby"));
        Assert.Equal([PerformanceLevel.Competent, PerformanceLevel.Competent, PerformanceLevel.Competent, PerformanceLevel.Expert],
            new[] { "world_knowledge", "language", "arithmetic", "classification" }.Select(f => FamilyLevel(a, f)));
        // Families {2, 2, 2, 3}: all four reach 2, only one reaches 3 → Competent.
        Assert.Equal((PerformanceLevel.Competent, Generality.General, "Competent AGI"), (a.Level, a.Generality, a.Cell));
    }

    [Fact]
    public void Half_of_the_families_is_not_a_majority()
    {
        // Arithmetic 0.5 < unskilled 0.80 → 0; spam 0.6 beats chance (0.6 − 0.02 > 0.5) but not 0.80 → 0.
        var a = Assess(Suite(capital: 0.85, currency: 0.72, language: 0.80, element: 0.90, wordnet: 0.93, lambada: 0.12, bpb: 1.5, arithmetic: 0.5, spam: 0.6));
        Assert.False(a.Tasks.Single(t => t.Task == "spam_ham").AtChance);
        Assert.Equal((PerformanceLevel.Competent, Generality.Narrow, "Competent Narrow AI"), (a.Level, a.Generality, a.Cell));
        Assert.Contains("2 of 4 task families", a.GeneralityReason);
        Assert.Contains("World knowledge, Language at Level 2", a.LevelReason);
    }

    [Fact]
    public void Fewer_than_four_families_cannot_be_general()
    {
        var rows = Suite(capital: 1, currency: 1, language: 1, element: 1, wordnet: 1, lambada: 0.5, bpb: 1.3, arithmetic: 1, spam: 1)
            .Where(r => r.Task != "spam_ham").ToArray();
        var a = Assess(rows);
        Assert.Equal(3, a.Families.Count);
        Assert.All(a.Families, f => Assert.True(f.Level >= PerformanceLevel.Competent));
        Assert.Equal(Generality.Narrow, a.Generality);
        Assert.Contains("3 task families assessed; General needs at least 4", a.GeneralityReason);
    }

    [Fact]
    public void A_family_takes_the_lower_median_of_its_tasks()
    {
        // wordnet 0.93 → 3 and lambada 0 → 0 (no bpb task run): of two, the weaker.
        var a = Assess(new Row("wordnet_definition", "acc", 0.93, 0.01, 0.25), new Row("lambada_moby", "acc", 0.0, 0.0, null, "loglikelihood"));
        Assert.Equal(PerformanceLevel.NoAi, FamilyLevel(a, "language"));
        // Adding bpb at 1.5 (→ 2) makes {0, 2, 3}: the median is 2.
        var b = Assess(new Row("wordnet_definition", "acc", 0.93, 0.01, 0.25), new Row("lambada_moby", "acc", 0.0, 0.0, null, "loglikelihood"),
            new Row("bpb_moby", "bits_per_byte", 1.5, 0.01, null, "loglikelihood_rolling"));
        Assert.Equal(PerformanceLevel.Competent, FamilyLevel(b, "language"));
    }

    [Theory]
    [InlineData(0.80, 2)]    // exactly the p50 anchor: met
    [InlineData(0.7999, 1)]
    [InlineData(0.45, 1)]    // exactly unskilled
    [InlineData(0.44, 0)]    // above chance, below unskilled
    [InlineData(0.99, 4)]
    [InlineData(1.0, 4)]     // equal to the best person is not superhuman
    public void Country_capital_levels_at_the_anchor_boundaries(double acc, int level)
    {
        var a = Assess(new Row("country_capital", "acc", acc, 0.0, 0.25));
        Assert.Equal((PerformanceLevel)level, TaskLevel(a, "country_capital"));
    }

    [Theory]
    [InlineData(1.20, 5)]    // strictly below the best person's 1.25
    [InlineData(1.25, 4)]    // equal to the best: Virtuoso (≤ p99 1.35)
    [InlineData(1.40, 3)]    // ≤ p90 1.45
    [InlineData(1.60, 2)]
    [InlineData(2.50, 1)]
    [InlineData(2.51, 0)]
    [InlineData(8.00, 0)]    // the uniform byte model
    public void Bits_per_byte_is_lower_is_better(double bpb, int level)
    {
        var a = Assess(new Row("bpb_moby", "bits_per_byte", bpb, 0.0, null, "loglikelihood_rolling"));
        Assert.Equal((PerformanceLevel)level, TaskLevel(a, "bpb_moby"));
    }

    [Fact]
    public void A_score_within_two_standard_errors_of_chance_is_level_0_whatever_the_anchors()
    {
        // spam 0.82 meets unskilled 0.80, but with stderr 0.2 its interval reaches 0.5; with 0.1 it clears 0.5 (0.62).
        Assert.Equal(PerformanceLevel.NoAi, TaskLevel(Assess(new Row("spam_ham", "acc", 0.82, 0.2, 0.5)), "spam_ham"));
        Assert.Equal(PerformanceLevel.Emerging, TaskLevel(Assess(new Row("spam_ham", "acc", 0.82, 0.1, 0.5)), "spam_ham"));
        // The results' chance (measured on the documents scored) wins over the table's.
        var a = Assess(new Row("spam_ham", "acc", 0.82, 0.01, 0.81));
        Assert.Equal((0.81, true, PerformanceLevel.NoAi), (a.Tasks[0].Chance!.Value, a.Tasks[0].AtChance, a.Tasks[0].Level));
        // Without a chance in the results the table's 0.5 is used.
        Assert.Equal(0.5, Assess(new Row("spam_ham", "acc", 0.82, 0.01)).Tasks[0].Chance);
    }

    [Fact]
    public void Tasks_without_a_reference_are_listed_not_guessed()
    {
        var a = Assess(new Row("country_capital", "acc", 0.9, 0.01, 0.25), new Row("my_own_task", "acc", 0.99, 0.01, 0.25),
            new Row("spam_ham", "acc_norm", 0.99, 0.01, 0.5));   // spam_ham's reference compares acc, which is missing
        Assert.Equal(TaskStanding.NoReference, a.Tasks.Single(t => t.Task == "my_own_task").Standing);
        Assert.Equal(TaskStanding.MetricMissing, a.Tasks.Single(t => t.Task == "spam_ham").Standing);
        Assert.Equal(["world_knowledge"], a.Families.Select(f => f.Family.Name));
        Assert.Equal(PerformanceLevel.Competent, a.Level);   // 0.9 ≥ p50 0.80, < p90 0.95
        Assert.Contains("1 task has no human reference", a.Verdict);
        Assert.Contains("1 task lacks the metric", a.Verdict);
    }

    [Fact]
    public void No_referenced_task_is_level_0_narrow()
    {
        var a = Assess(new Row("my_own_task", "acc", 0.99, 0.01, 0.25));
        Assert.Empty(a.Families);
        Assert.Equal((PerformanceLevel.NoAi, Generality.Narrow), (a.Level, a.Generality));
        Assert.Contains("no task in the results has a human reference", a.LevelReason);
    }

    [Fact]
    public void The_built_in_table_covers_every_built_in_task_and_says_its_anchors_are_assumptions()
    {
        var table = BuiltIn;
        Assert.Equal(["arithmetic", "bpb_moby", "country_capital", "country_currency", "country_language", "element_symbol", "lambada_moby", "spam_ham", "wordnet_definition"],
            table.Tasks.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(4, table.Families.Count);
        Assert.All(table.Tasks.Values, t => Assert.All(t.Anchors, a => Assert.True(a.Assumption && a.Reason!.Length > 20, $"{t.Task}: {a.Provenance}")));
    }
}
