namespace Lathe.Data;

/// <summary>Which cleaning rules run and their thresholds. Every rule can be switched off. The document
/// quality thresholds are those of the Gopher rules (Rae et al. 2021, "Scaling Language Models: Methods,
/// Analysis &amp; Insights from Training Gopher", Appendix A.1.1: 50..100,000 words, mean word length 3..10,
/// symbol-to-word ratio ≤ 0.1 for "#" and "...", ≥ 80% of words with a letter, ≤ 30% duplicate lines)
/// and C4 (Raffel et al. 2020, "Exploring the Limits of Transfer Learning…", §2.2: lines ending in terminal
/// punctuation). C4 applies its punctuation rule line by line to web pages; hard-wrapped text (mail,
/// Gutenberg books) ends most lines mid-sentence, so here it is a document-level fraction, off by default.</summary>
public sealed record CleaningOptions
{
    /// <summary>Unicode normalization form C (canonical composition).</summary>
    public bool Nfc { get; init; } = true;
    /// <summary>Remove control characters (other than tab and line breaks) and invisible format characters
    /// (zero-width space, BOM, soft hyphen, bidirectional controls; ZWJ/ZWNJ are kept: they carry meaning).</summary>
    public bool RemoveControlChars { get; init; } = true;
    /// <summary>Line breaks to \n, Unicode spaces and tabs to one space, no trailing spaces, at most one blank line.</summary>
    public bool NormalizeWhitespace { get; init; } = true;
    /// <summary>Drop mail quoted replies ("&gt; …", "On … wrote:", "-----Original Message-----" and after)
    /// and signatures (after a "-- " line or a mailing-list footer rule of underscores, when at most 15 lines follow).</summary>
    public bool StripMailQuotes { get; init; } = true;
    /// <summary>Convert documents that look like HTML to their visible text.</summary>
    public bool HtmlToText { get; init; } = true;
    /// <summary>Replace e-mail addresses with "[email]" and phone numbers with "[phone]".</summary>
    public bool ScrubContacts { get; init; }

    /// <summary>Apply the document quality filters below at all.</summary>
    public bool QualityFilter { get; init; } = true;
    /// <summary>Gopher: fewer words (white-space separated) than this → rejected.</summary>
    public int MinWords { get; init; } = 50;
    /// <summary>Gopher: more words than this → rejected.</summary>
    public int MaxWords { get; init; } = 100_000;
    /// <summary>Gopher: mean word length (chars) below this → rejected.</summary>
    public double MinMeanWordLength { get; init; } = 3;
    /// <summary>Gopher: mean word length above this → rejected.</summary>
    public double MaxMeanWordLength { get; init; } = 10;
    /// <summary>Gopher: ("#" count + "..." / "…" count) / words above this → rejected.</summary>
    public double MaxSymbolToWordRatio { get; init; } = 0.1;
    /// <summary>Gopher: fraction of words containing a letter below this → rejected.</summary>
    public double MinAlphabeticWordFraction { get; init; } = 0.8;
    /// <summary>Gopher: fraction of non-empty lines that repeat an earlier line above this → rejected.</summary>
    public double MaxDuplicateLineFraction { get; init; } = 0.3;
    /// <summary>C4-style: fraction of non-empty lines ending in terminal punctuation below this → rejected (0 = off).</summary>
    public double MinPunctuatedLineFraction { get; init; }

    /// <summary>Everything on, with the published thresholds.</summary>
    public static CleaningOptions Default { get; } = new();
}
