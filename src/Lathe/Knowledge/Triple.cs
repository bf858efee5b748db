namespace Lathe.Knowledge;

/// <summary>One fact: <paramref name="Subject"/> (an entity id) stands in <paramref name="Relation"/> (a relation id)
/// to <paramref name="Object"/>, as <paramref name="Source"/> (the data set it came from, e.g. <c>world-countries@5.1.0</c>)
/// says.</summary>
public sealed record Triple(string Subject, string Relation, Term Object, string Source);
