namespace Lathe.Knowledge.Corpus;

/// <summary>What goes into a knowledge-injection corpus and in which order.</summary>
public sealed record KnowledgeCorpusOptions
{
    /// <summary>Seeds the paragraph (and, in repeats, sentence) order.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>How many times every fact is written, each time in a new order (facts need repetition to be learned).</summary>
    public int Repeat { get; init; } = 1;

    /// <summary>Only these relations' facts; null for all.</summary>
    public IReadOnlySet<string>? Relations { get; init; }

    /// <summary>(subject, relation) pairs whose facts are left out — the experiment's held-out questions.</summary>
    public IReadOnlySet<FactKey>? Exclude { get; init; }
}

/// <summary>What a corpus holds: <paramref name="Paragraphs"/> and <paramref name="Facts"/> per pass (one paragraph per
/// subject with facts), <paramref name="Excluded"/> facts left out by the held-out list, and the whole text's size.</summary>
public sealed record KnowledgeCorpusStats(int Paragraphs, int Facts, int Excluded, int Repeat, long Characters);
