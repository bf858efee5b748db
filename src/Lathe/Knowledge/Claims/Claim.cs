namespace Lathe.Knowledge.Claims;

/// <summary>One (subject, relation, object) statement found in text. <paramref name="ObjectText"/> is the object as
/// written; <paramref name="Object"/> the term it was read as when it names a graph entity or parses as the
/// relation's literal kind (null otherwise). <paramref name="Start"/> and <paramref name="Length"/> locate the
/// sentence (or answer) the claim was read from.</summary>
public sealed record Claim(string SubjectId, string Relation, string ObjectText, Term? Object, int Start, int Length);

/// <summary>What the graph says about a claim.</summary>
public enum ClaimStatus
{
    /// <summary>One of the graph's objects for (subject, relation) is the claimed one.</summary>
    Supported,
    /// <summary>The graph holds objects for (subject, relation) and none is the claimed one (closed world per subject
    /// and relation: the graph is taken to list every object it has on them).</summary>
    Contradicted,
    /// <summary>The graph holds nothing for (subject, relation).</summary>
    Unknown,
}

/// <summary>A claim, its status, and the graph's objects for its (subject, relation), as written
/// (<see cref="FactText.ObjectText"/>).</summary>
public sealed record ClaimVerdict(Claim Claim, ClaimStatus Status, IReadOnlyList<string> GraphValues);
