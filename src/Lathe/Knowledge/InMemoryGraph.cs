namespace Lathe.Knowledge;

/// <summary>A knowledge graph held in lists and scanned linearly. Tests build small graphs with it, and it is the
/// independent oracle the SQLite store's query results are checked against — so it is kept naive on purpose.</summary>
public sealed class InMemoryGraph : IKnowledgeGraph
{
    private readonly SortedDictionary<string, KgEntity> _entities = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, KgRelation> _relations = new(StringComparer.Ordinal);
    private readonly List<Triple> _triples = [];

    public InMemoryGraph AddEntity(KgEntity entity) { _entities[entity.Id] = entity; return this; }

    public InMemoryGraph AddEntity(string id, string name, string type, params string[] aliases) =>
        AddEntity(new KgEntity(id, name, aliases, type));

    public InMemoryGraph AddRelation(KgRelation relation) { _relations[relation.Id] = relation; return this; }

    /// <summary>Adds a fact; a duplicate (same subject, relation and object) is ignored, as the store ignores it.</summary>
    public InMemoryGraph Add(Triple triple)
    {
        if (!_triples.Any(t => t.Subject == triple.Subject && t.Relation == triple.Relation && t.Object == triple.Object))
            _triples.Add(triple);
        return this;
    }

    public InMemoryGraph Add(string subject, string relation, Term obj, string source = "test") =>
        Add(new Triple(subject, relation, obj, source));

    public int TripleCount => _triples.Count;

    public KgEntity? FindEntity(string id) => _entities.GetValueOrDefault(id);

    public IReadOnlyList<KgEntity> EntitiesNamed(string name)
    {
        var key = NameKey.Of(name);
        return _entities.Values.Where(e => NameKey.Of(e.Name) == key || e.Aliases.Any(a => NameKey.Of(a) == key)).ToList();
    }

    public IEnumerable<KgEntity> Entities() => _entities.Values;

    public KgRelation? FindRelation(string id) => _relations.GetValueOrDefault(id);

    public IReadOnlyList<KgRelation> Relations() => _relations.Values.ToList();

    public IReadOnlyList<Triple> Match(string? subject, string? relation, Term? obj) =>
        _triples.Where(t => (subject is null || t.Subject == subject) && (relation is null || t.Relation == relation)
                            && (obj is null || t.Object == obj.Value))
            .OrderBy(t => t.Subject, StringComparer.Ordinal).ThenBy(t => t.Relation, StringComparer.Ordinal)
            .ThenBy(t => t.Object.Kind).ThenBy(t => t.Object.Value, StringComparer.Ordinal)
            .ToList();
}
