namespace Lathe.Knowledge.Store;

/// <summary>A fact found around an entity, <see cref="Hop"/> steps away (1: it names the entity; 2: it names a
/// neighbour).</summary>
public sealed record NeighbourFact(int Hop, Triple Fact);

/// <summary>One step of a path: a fact, walked from subject to object (<see cref="Forward"/>) or against it.</summary>
public sealed record PathStep(Triple Fact, bool Forward);

/// <summary>Walks around entities over any <see cref="IKnowledgeGraph"/>: the facts near one entity, and the one- and
/// two-hop paths between two, following facts in either direction. Everything goes through
/// <see cref="IKnowledgeGraph.Match"/> with the subject or the object bound, which the store answers from an index.</summary>
public static class GraphPaths
{
    /// <summary>The facts naming <paramref name="entityId"/> (as subject or object; hop 1) and, for
    /// <paramref name="hops"/> = 2, the facts naming the entities those reach (hop 2); each fact once, at its nearest
    /// hop, ordered by hop then by the graph's triple order.</summary>
    public static IReadOnlyList<NeighbourFact> Neighbourhood(IKnowledgeGraph graph, string entityId, int hops = 1)
    {
        if (hops is not (1 or 2)) throw new ArgumentException($"hops {hops} must be 1 or 2");
        if (graph.FindEntity(entityId) is null) throw new ArgumentException($"unknown entity '{entityId}'");
        var seen = new HashSet<Triple>(TripleKey.Instance);
        var result = new List<NeighbourFact>();
        var first = Touching(graph, entityId);
        foreach (var fact in first) if (seen.Add(fact)) result.Add(new NeighbourFact(1, fact));
        if (hops == 2)
        {
            var neighbours = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var fact in first)
            {
                string other = fact.Subject == entityId ? fact.Object.Value : fact.Subject;
                if ((fact.Subject != entityId || fact.Object.IsEntity) && other != entityId) neighbours.Add(other);
            }
            var second = new List<Triple>();
            foreach (string id in neighbours)
                foreach (var fact in Touching(graph, id))
                    if (seen.Add(fact)) second.Add(fact);
            second.Sort(KnowledgeStore.CompareTriples);
            result.AddRange(second.Select(f => new NeighbourFact(2, f)));
        }
        return result;
    }

    /// <summary>Paths from <paramref name="fromId"/> to <paramref name="toId"/> of one fact, then (for
    /// <paramref name="maxHops"/> = 2) of two facts through an intermediate entity; each step may run with or against
    /// its fact. One-hop paths first, then two-hop paths by intermediate id; within those, the graph's triple order.</summary>
    public static IReadOnlyList<IReadOnlyList<PathStep>> Paths(IKnowledgeGraph graph, string fromId, string toId, int maxHops = 2)
    {
        if (maxHops is not (1 or 2)) throw new ArgumentException($"max hops {maxHops} must be 1 or 2");
        foreach (string id in new[] { fromId, toId })
            if (graph.FindEntity(id) is null) throw new ArgumentException($"unknown entity '{id}'");
        if (fromId == toId) throw new ArgumentException($"a path needs two different entities, not '{fromId}' twice");
        var paths = new List<IReadOnlyList<PathStep>>();
        var fromSteps = Steps(graph, fromId);   // (step, entity reached)
        foreach (var (step, reached) in fromSteps)
            if (reached == toId) paths.Add([step]);
        if (maxHops == 2)
        {
            // Steps into `to`, by the entity they start from: the reverse of each step out of `to`.
            var into = new Dictionary<string, List<PathStep>>(StringComparer.Ordinal);
            foreach (var (step, reached) in Steps(graph, toId))
            {
                if (!into.TryGetValue(reached, out var list)) into[reached] = list = [];
                list.Add(step with { Forward = !step.Forward });
            }
            foreach (var (first, mid) in fromSteps.Where(s => s.Reached != fromId && s.Reached != toId)
                         .OrderBy(s => s.Reached, StringComparer.Ordinal))   // stable: triple order within one mid
                if (into.TryGetValue(mid, out var seconds))
                    foreach (var second in seconds) paths.Add([first, second]);
        }
        return paths;
    }

    // Facts with the entity as subject or as object, in triple order, each once (a fact "x r x" is both).
    static List<Triple> Touching(IKnowledgeGraph graph, string id)
    {
        var facts = new List<Triple>(graph.Match(id, null, null));
        foreach (var fact in graph.Match(null, null, Term.Entity(id)))
            if (fact.Subject != id) facts.Add(fact);
        facts.Sort(KnowledgeStore.CompareTriples);
        return facts;
    }

    // Each step out of an entity to another entity: forward along its facts to entity objects, backward from subjects.
    static List<(PathStep Step, string Reached)> Steps(IKnowledgeGraph graph, string id)
    {
        var steps = new List<(PathStep, string)>();
        foreach (var fact in Touching(graph, id))
        {
            if (fact.Subject == id && fact.Object.IsEntity) steps.Add((new PathStep(fact, true), fact.Object.Value));
            if (fact.Object == Term.Entity(id) && fact.Subject != id) steps.Add((new PathStep(fact, false), fact.Subject));
        }
        return steps;
    }

    /// <summary>Facts compared without their source (one fact, whoever said it).</summary>
    sealed class TripleKey : IEqualityComparer<Triple>
    {
        public static readonly TripleKey Instance = new();
        public bool Equals(Triple? a, Triple? b) => a is not null && b is not null && a.Subject == b.Subject && a.Relation == b.Relation && a.Object == b.Object;
        public int GetHashCode(Triple t) => HashCode.Combine(t.Subject, t.Relation, t.Object);
    }
}
