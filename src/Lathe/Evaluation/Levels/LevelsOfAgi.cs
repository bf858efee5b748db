namespace Lathe.Evaluation.Levels;

/// <summary>The performance axis of Morris et al. (2023), "Levels of AGI for Operationalizing Progress on the Path to
/// AGI" (Google DeepMind, arXiv:2311.02462, Table 1). Each level is defined against people: the share of skilled adults
/// a system's performance matches or beats on the tasks in question.</summary>
public enum PerformanceLevel
{
    /// <summary>Level 0: no AI — in this report, a score no better than chance or below an unskilled person.</summary>
    NoAi = 0,
    /// <summary>Level 1: as good as, or a little better than, a person without the skill.</summary>
    Emerging = 1,
    /// <summary>Level 2: at least the median (50th percentile) skilled adult.</summary>
    Competent = 2,
    /// <summary>Level 3: at least the 90th percentile of skilled adults.</summary>
    Expert = 3,
    /// <summary>Level 4: at least the 99th percentile of skilled adults.</summary>
    Virtuoso = 4,
    /// <summary>Level 5: better than every person.</summary>
    Superhuman = 5,
}

/// <summary>The generality axis of Morris et al. (2023): narrow (one clearly scoped task or set of tasks) or general (a
/// wide range of non-physical tasks, metacognitive ones such as learning new skills included).</summary>
public enum Generality
{
    Narrow,
    General,
}

/// <summary>One example the paper places in a cell of its performance × generality matrix.</summary>
public sealed record PaperExample(PerformanceLevel Level, Generality Generality, string Label);

/// <summary>The framework's vocabulary and the paper's own reference points, written here in our words (facts carry
/// over, text does not). Source: Morris, Sohl-Dickstein, Fiedel, Warkentin, Dafoe, Faust, Farabet, Legg (2023),
/// arXiv:2311.02462, Table 1.</summary>
public static class LevelsOfAgi
{
    public const string Citation =
        "Morris et al. (2023), \"Levels of AGI for Operationalizing Progress on the Path to AGI\", Google DeepMind, arXiv:2311.02462";

    /// <summary>Short name of a level ("Emerging", …).</summary>
    public static string Name(PerformanceLevel level) => level switch
    {
        PerformanceLevel.NoAi => "No AI",
        PerformanceLevel.Emerging => "Emerging",
        PerformanceLevel.Competent => "Competent",
        PerformanceLevel.Expert => "Expert",
        PerformanceLevel.Virtuoso => "Virtuoso",
        PerformanceLevel.Superhuman => "Superhuman",
        _ => throw new ArgumentOutOfRangeException(nameof(level)),
    };

    /// <summary>What a level means, measured against people (the paper's definitions, paraphrased).</summary>
    public static string Definition(PerformanceLevel level) => level switch
    {
        PerformanceLevel.NoAi => "no AI: not better than chance or an unskilled person",
        PerformanceLevel.Emerging => "equal to or a little better than an unskilled person",
        PerformanceLevel.Competent => "at least the 50th percentile of skilled adults",
        PerformanceLevel.Expert => "at least the 90th percentile of skilled adults",
        PerformanceLevel.Virtuoso => "at least the 99th percentile of skilled adults",
        PerformanceLevel.Superhuman => "better than 100% of people",
        _ => throw new ArgumentOutOfRangeException(nameof(level)),
    };

    /// <summary>The name of a cell of the matrix as the paper labels it ("Emerging AGI", "Virtuoso Narrow AI", …).</summary>
    public static string CellName(PerformanceLevel level, Generality generality) => (level, generality) switch
    {
        (PerformanceLevel.NoAi, Generality.Narrow) => "Narrow Non-AI",
        (PerformanceLevel.NoAi, Generality.General) => "General Non-AI",
        (PerformanceLevel.Superhuman, Generality.General) => "Artificial Superintelligence (ASI)",
        (_, Generality.Narrow) => $"{Name(level)} Narrow AI",
        _ => $"{Name(level)} AGI",
    };

    /// <summary>The paper's examples (Table 1 of arXiv:2311.02462, checked against the table on 2026-12-05). The general
    /// column above Level 1 holds none: the paper marks those cells "not yet achieved".</summary>
    public static IReadOnlyList<PaperExample> Examples { get; } =
    [
        new(PerformanceLevel.NoAi, Generality.Narrow, "calculator software"),
        new(PerformanceLevel.NoAi, Generality.Narrow, "compilers"),
        new(PerformanceLevel.NoAi, Generality.General, "human-in-the-loop computing (Amazon Mechanical Turk)"),
        new(PerformanceLevel.Emerging, Generality.Narrow, "GOFAI"),
        new(PerformanceLevel.Emerging, Generality.Narrow, "rule-based systems (SHRDLU)"),
        new(PerformanceLevel.Emerging, Generality.General, "ChatGPT"),
        new(PerformanceLevel.Emerging, Generality.General, "Bard"),
        new(PerformanceLevel.Emerging, Generality.General, "Llama 2"),
        new(PerformanceLevel.Emerging, Generality.General, "Gemini"),
        new(PerformanceLevel.Competent, Generality.Narrow, "toxicity detectors (Jigsaw)"),
        new(PerformanceLevel.Competent, Generality.Narrow, "smart speakers (Siri, Alexa, Google Assistant)"),
        new(PerformanceLevel.Competent, Generality.Narrow, "VQA systems (PaLI)"),
        new(PerformanceLevel.Competent, Generality.Narrow, "Watson"),
        new(PerformanceLevel.Competent, Generality.Narrow, "state-of-the-art LLMs on some tasks (short essays, simple coding)"),
        new(PerformanceLevel.Expert, Generality.Narrow, "spelling and grammar checkers (Grammarly)"),
        new(PerformanceLevel.Expert, Generality.Narrow, "image generators (Imagen, DALL·E 2)"),
        new(PerformanceLevel.Virtuoso, Generality.Narrow, "Deep Blue"),
        new(PerformanceLevel.Virtuoso, Generality.Narrow, "AlphaGo"),
        new(PerformanceLevel.Superhuman, Generality.Narrow, "AlphaFold"),
        new(PerformanceLevel.Superhuman, Generality.Narrow, "AlphaZero"),
        new(PerformanceLevel.Superhuman, Generality.Narrow, "Stockfish"),
    ];
}
