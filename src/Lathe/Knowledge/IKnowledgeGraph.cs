namespace Lathe.Knowledge;

/// <summary>Read access to a knowledge graph: what grounding, question sets and claim checking need. The SQLite store
/// (<see cref="KnowledgeStore"/>) implements it for real use; <see cref="InMemoryGraph"/> for tests, where it is also the
/// oracle the store's answers are checked against. Every list comes back in a fixed order (entities by id; triples by
/// subject, relation, object kind, object value), so callers are deterministic.</summary>
public interface IKnowledgeGraph
{
    /// <summary>The entity with this id, or null.</summary>
    KgEntity? FindEntity(string id);

    /// <summary>Entities whose name or one of whose aliases has the same <see cref="NameKey"/> as
    /// <paramref name="name"/> (case, accents, punctuation and spacing ignored). Several when the name is ambiguous.</summary>
    IReadOnlyList<KgEntity> EntitiesNamed(string name);

    /// <summary>Every entity, by id.</summary>
    IEnumerable<KgEntity> Entities();

    /// <summary>The relation with this id, or null.</summary>
    KgRelation? FindRelation(string id);

    /// <summary>Every relation, by id.</summary>
    IReadOnlyList<KgRelation> Relations();

    /// <summary>The triples matching one pattern; a null position matches anything.</summary>
    IReadOnlyList<Triple> Match(string? subject, string? relation, Term? obj);
}
