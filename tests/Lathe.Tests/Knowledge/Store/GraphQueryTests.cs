using Lathe.Knowledge;
using Lathe.Knowledge.Store;

namespace Lathe.Tests.Knowledge.Store;

/// <summary>Queries: joins against a brute-force join over every combination of facts, the same rows from the store
/// and the in-memory graph, literal typing, names, limits and the one-line errors.</summary>
public class GraphQueryTests
{
    [Theory]
    [InlineData("?a borders ?b . ?b capital ?c")]
    [InlineData("?a ?r ?b . ?b borders ?a")]
    [InlineData("?x capital ?y . ?y area_km2 ?n")]
    [InlineData("?a borders ?a")]
    [InlineData("?c founded ?d . ?c motto ?m")]
    [InlineData("?c capital ?y . ?y capital ?c")]
    [InlineData("?a borders ?b . ?b borders ?c . ?c capital ?a")]
    public void Joins_match_a_brute_force_join(string text)
    {
        var (oracle, jsonl) = StoreFixtures.RandomGraph(31, entities: 25, facts: 250);
        using var folder = new TempFolder();
        using var store = KnowledgeStore.Create(folder.File("g.db"));
        store.Import(folder.Write("g.jsonl", jsonl));
        var query = GraphQuery.Parse(text, store);
        var rows = query.Run(store).Rows.Select(r => string.Join(" | ", r)).ToList();
        var expected = BruteForce(oracle, text, query.Variables);
        Assert.True(expected.Count > 0, $"'{text}' should have answers in the fixture");
        Assert.Equal(expected.Order(StringComparer.Ordinal), rows.Order(StringComparer.Ordinal));
        Assert.Equal(rows.Count, rows.Distinct().Count());
        // Same order from both graphs (the order is the patterns' nested loops over Match's order).
        Assert.Equal(GraphQuery.Parse(text, oracle).Run(oracle).Rows.Select(r => string.Join(" | ", r)), rows);
        var limited = query.Run(store, limit: 3).Rows.Select(r => string.Join(" | ", r));
        Assert.Equal(rows.Take(3), limited);
    }

    // Every combination of one fact per pattern, kept when constants and shared variables agree.
    static List<string> BruteForce(InMemoryGraph graph, string text, IReadOnlyList<string> variables)
    {
        var patterns = text.Split(" . ").Select(p => p.Split(' ')).ToArray();
        var all = graph.Match(null, null, null);
        var results = new List<string>();
        var chosen = new Triple[patterns.Length];
        void Walk(int i)
        {
            if (i == patterns.Length)
            {
                var values = new Dictionary<string, Term>();
                for (int p = 0; p < patterns.Length; p++)
                {
                    Term[] terms = [Term.Entity(chosen[p].Subject), Term.Entity(chosen[p].Relation), chosen[p].Object];
                    for (int k = 0; k < 3; k++)
                    {
                        string w = patterns[p][k];
                        if (w.StartsWith('?'))
                        {
                            if (values.TryGetValue(w[1..], out var v) && v != terms[k]) return;
                            values[w[1..]] = terms[k];
                        }
                        else if (terms[k].Value != w) return;
                    }
                }
                results.Add(string.Join(" | ", variables.Select(v => values[v])));
                return;
            }
            foreach (var t in all) { chosen[i] = t; Walk(i + 1); }
        }
        Walk(0);
        return results.Distinct().ToList();
    }

    static InMemoryGraph Small() => new InMemoryGraph()
        .AddRelation(new KgRelation("capital", "capital", TermKind.Entity, true, "The capital of {s} is {o}.", []))
        .AddRelation(new KgRelation("borders", "borders", TermKind.Entity, false, "{s} borders {o}.", []))
        .AddRelation(new KgRelation("discovered", "discovered", TermKind.Date, true, "{s} was discovered in {o}.", []))
        .AddRelation(new KgRelation("symbol", "symbol", TermKind.String, true, "The symbol of {s} is {o}.", []))
        .AddRelation(new KgRelation("mass", "mass", TermKind.Number, true, "{s} weighs {o}.", []))
        .AddEntity("country/FRA", "France", "country", "French Republic")
        .AddEntity("country/ESP", "Spain", "country")
        .AddEntity("country/GEO", "Georgia", "country")
        .AddEntity("state/GA", "Georgia", "state")
        .AddEntity("city/paris", "Paris", "city")
        .AddEntity("city/madrid", "Madrid", "city")
        .AddEntity("element/Pd", "Palladium", "element")
        .AddEntity("element/Ce", "Cerium", "element")
        .Add("country/FRA", "capital", Term.Entity("city/paris"))
        .Add("country/ESP", "capital", Term.Entity("city/madrid"))
        .Add("country/FRA", "borders", Term.Entity("country/ESP"))
        .Add("country/ESP", "borders", Term.Entity("country/FRA"))
        .Add("element/Pd", "discovered", Term.Date("1803"))
        .Add("element/Ce", "discovered", Term.Date("1803"))
        .Add("element/Pd", "symbol", Term.Text("1803"))
        .Add("element/Pd", "mass", Term.Number(106.42));

    static List<string> Rows(string text, int? limit = null)
    {
        var graph = Small();
        return GraphQuery.Parse(text, graph).Run(graph, limit).Rows.Select(r => string.Join(" ", r)).ToList();
    }

    [Fact]
    public void Names_in_brackets_resolve_through_names_and_aliases()
    {
        Assert.Equal(["country/ESP city/madrid"], Rows("[french republic] borders ?n . ?n capital ?c"));
        Assert.Equal(["country/ESP"], Rows("?x borders [FRANCE]"));
    }

    [Fact]
    public void Literals_take_their_relations_kind()
    {
        Assert.Equal(["element/Ce", "element/Pd"], Rows("?e discovered \"1803\""));
        Assert.Equal(["element/Ce", "element/Pd"], Rows("?e discovered 1803"));
        Assert.Equal(["element/Pd"], Rows("?e symbol \"1803\""));
        Assert.Equal(["element/Pd"], Rows("?e mass 106.420"));
        // Under a relation variable a quoted literal is a string or a date.
        Assert.Equal(["element/Ce discovered", "element/Pd discovered", "element/Pd symbol"], Rows("?e ?r \"1803\""));
        Assert.Equal(["element/Pd mass"], Rows("?e ?r 106.42"));
    }

    [Fact]
    public void A_limit_stops_the_rows()
    {
        Assert.Equal(4, Rows("?a ?r ?b").Count - 4);   // 8 facts
        Assert.Equal(["country/ESP borders country/FRA", "country/ESP capital city/madrid"], Rows("?a ?r ?b", limit: 2));
    }

    [Theory]
    [InlineData("?x population ?y", "unknown relation 'population'")]
    [InlineData("?x capital [Atlantis]", "no entity is named 'Atlantis'")]
    [InlineData("[Georgia] capital ?c", "[Georgia] is ambiguous: country/GEO (Georgia, country), state/GA (Georgia, state)")]
    [InlineData("country/XXX capital ?c", "unknown entity 'country/XXX'")]
    [InlineData("?x capital", "pattern 1 has 2 terms")]
    [InlineData("?x capital ?y . ?y", "pattern 2 has 1 terms")]
    [InlineData("", "the query is empty")]
    [InlineData("?x mass \"heavy\"", "relation 'mass' holds numbers")]
    [InlineData("?x capital \"Paris\"", "relation 'capital' holds entities")]
    [InlineData("?x ?r ?y . ?r capital ?z", "?r stands for a relation")]
    [InlineData("?x capital \"Paris", "not closed")]
    [InlineData("?x-y capital ?z", "'?x-y' is not a variable")]
    [InlineData("?x [France] ?z", "a relation is an id or a ?variable")]
    public void Bad_queries_are_one_line_argument_errors(string text, string what)
    {
        var e = Assert.Throws<ArgumentException>(() => Rows(text));
        Assert.Contains(what, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Neighbourhood_lists_facts_by_hop()
    {
        var graph = Small();
        var one = GraphPaths.Neighbourhood(graph, "city/paris");
        Assert.Equal([new NeighbourFact(1, new Triple("country/FRA", "capital", Term.Entity("city/paris"), "test"))], one);
        var two = GraphPaths.Neighbourhood(graph, "city/paris", hops: 2).Select(n => $"{n.Hop} {n.Fact.Subject} {n.Fact.Relation} {n.Fact.Object.Value}");
        Assert.Equal(["1 country/FRA capital city/paris", "2 country/ESP borders country/FRA", "2 country/FRA borders country/ESP"], two);
        Assert.Throws<ArgumentException>(() => GraphPaths.Neighbourhood(graph, "city/paris", hops: 3));
        Assert.Throws<ArgumentException>(() => GraphPaths.Neighbourhood(graph, "city/rome"));
    }

    [Fact]
    public void Paths_follow_facts_both_ways_through_one_intermediate()
    {
        var graph = Small();
        string Show(IReadOnlyList<PathStep> path) => string.Join(" ; ", path.Select(s => $"{(s.Forward ? "+" : "-")}{s.Fact.Subject} {s.Fact.Relation} {s.Fact.Object.Value}"));
        Assert.Equal(["-country/ESP borders country/FRA", "+country/FRA borders country/ESP"],
            GraphPaths.Paths(graph, "country/FRA", "country/ESP").Select(Show));
        Assert.Equal(["-country/FRA capital city/paris ; -country/ESP borders country/FRA",
                      "-country/FRA capital city/paris ; +country/FRA borders country/ESP"],
            GraphPaths.Paths(graph, "city/paris", "country/ESP").Select(Show));
        Assert.Empty(GraphPaths.Paths(graph, "city/paris", "city/madrid"));   // three hops apart
        Assert.Empty(GraphPaths.Paths(graph, "city/paris", "country/ESP", maxHops: 1));
        Assert.Throws<ArgumentException>(() => GraphPaths.Paths(graph, "city/paris", "city/paris"));
    }

    [Theory]
    [InlineData(61)]
    [InlineData(62)]
    public void Neighbourhoods_and_paths_from_the_store_match_a_scan_of_all_facts(int seed)
    {
        var (oracle, jsonl) = StoreFixtures.RandomGraph(seed, entities: 20, facts: 120);
        using var folder = new TempFolder();
        using var store = KnowledgeStore.Create(folder.File("g.db"));
        store.Import(folder.Write("g.jsonl", jsonl));
        var all = oracle.Match(null, null, null);
        var ids = oracle.Entities().Select(e => e.Id).ToList();
        bool Touches(Triple t, string id) => t.Subject == id || t.Object == Term.Entity(id);
        string Key(Triple t) => $"{t.Subject} {t.Relation} {t.Object}";
        int twoHopPaths = 0;
        foreach (string a in ids)
        {
            // Hop 1: facts touching a; hop 2: other facts touching an entity a hop-1 fact reaches.
            var one = all.Where(t => Touches(t, a)).ToList();
            var reached = one.SelectMany(t => new[] { t.Subject, t.Object.IsEntity ? t.Object.Value : null }).Where(x => x is not null && x != a).ToHashSet();
            var two = all.Where(t => !Touches(t, a) && reached.Any(r => Touches(t, r!))).ToList();
            var found = GraphPaths.Neighbourhood(store, a, hops: 2);
            Assert.Equal(one.Select(Key).Order(), found.Where(n => n.Hop == 1).Select(n => Key(n.Fact)).Order());
            Assert.Equal(two.Select(Key).Order(), found.Where(n => n.Hop == 2).Select(n => Key(n.Fact)).Order());
            Assert.Equal(GraphPaths.Neighbourhood(oracle, a, hops: 2), found);
            foreach (string b in ids.Where(b => b != a).Take(6))
            {
                // Brute force: walk every fact both ways from a; a path is a walk ending at b (two steps: through another entity).
                var steps = (string from) => all.SelectMany(t => new[]
                {
                    t.Subject == from && t.Object.IsEntity ? (Fact: t, Forward: true, To: t.Object.Value) : default,
                    t.Object == Term.Entity(from) && t.Subject != from ? (Fact: t, Forward: false, To: t.Subject) : default,
                }).Where(s => s.Fact is not null).ToList();
                var expected = steps(a).Where(s => s.To == b).Select(s => $"{(s.Forward ? "+" : "-")}{Key(s.Fact)}").ToList();
                foreach (var first in steps(a).Where(s => s.To != a && s.To != b))
                    foreach (var second in steps(first.To).Where(s => s.To == b))
                        expected.Add($"{(first.Forward ? "+" : "-")}{Key(first.Fact)} ; {(second.Forward ? "+" : "-")}{Key(second.Fact)}");
                var paths = GraphPaths.Paths(store, a, b).Select(p => string.Join(" ; ", p.Select(s => $"{(s.Forward ? "+" : "-")}{Key(s.Fact)}"))).ToList();
                Assert.Equal(expected.Order(), paths.Order());
                twoHopPaths += paths.Count(p => p.Contains(" ; "));
            }
        }
        Assert.True(twoHopPaths > 20, $"only {twoHopPaths} two-hop paths in the fixture");
    }
}
