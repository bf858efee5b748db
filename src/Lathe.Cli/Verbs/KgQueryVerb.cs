using System.CommandLine;
using System.Text;
using System.Text.Json;
using Lathe.Knowledge;
using Lathe.Knowledge.Store;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe kg query`: triple patterns with variables (<c>"?c capital ?x . ?c borders [France]"</c>), the
/// neighbourhood of an entity (<c>--neighbours [France] --hops 2</c>), or the one- and two-hop paths between two
/// (<c>--path [France] [Spain]</c>). A table on stdout, or JSON lines with --json.</summary>
internal static class KgQueryVerb
{
    public static Command Create()
    {
        var patterns = new Argument<string?>("PATTERNS") { Description = "Triple patterns S R O separated by ' . '; terms: ?var, an entity id, [Entity Name], \"text\", a number.", Arity = ArgumentArity.ZeroOrOne };
        var db = KgVerb.DbOption();
        var limit = new Option<int?>("--limit") { Description = "At most this many rows." };
        var neighbours = new Option<string?>("--neighbours") { Description = "List the facts around this entity (an id or [Name])." };
        var hops = new Option<int>("--hops") { Description = "Neighbourhood radius (1 or 2); for --path the longest path (1 or 2).", DefaultValueFactory = _ => 1 };
        var path = new Option<string[]>("--path") { Description = "Paths between two entities (ids or [Name]s), one or two facts long.", Arity = new ArgumentArity(2, 2), AllowMultipleArgumentsPerToken = true };
        var json = new Option<bool>("--json") { Description = "Print JSON lines instead of a table." };
        var command = new Command("query", "Query the graph: triple patterns, an entity's neighbourhood, or paths between two entities.")
        {
            patterns, db, limit, neighbours, hops, path, json,
        };
        command.SetAction(r => Run(r.GetValue(patterns), r.GetValue(db)!, r.GetValue(limit), r.GetValue(neighbours),
            r.GetResult(hops) is { Implicit: false } ? r.GetValue(hops) : null, r.GetValue(path), r.GetValue(json)));
        return command;
    }

    static int Run(string? patterns, string db, int? limit, string? neighbours, int? hops, string[]? path, bool json)
    {
        int modes = (patterns is null ? 0 : 1) + (neighbours is null ? 0 : 1) + (path is { Length: > 0 } ? 1 : 0);
        if (modes != 1) throw new UserInputException("kg query: give exactly one of PATTERNS, --neighbours ENTITY or --path A B");
        if (limit is <= 0) throw new UserInputException($"kg query: --limit {limit} must be positive");
        if (hops is not (null or 1 or 2)) throw new UserInputException($"kg query: --hops {hops} must be 1 or 2");
        if (hops is not null && patterns is not null) throw new UserInputException("kg query: --hops goes with --neighbours or --path");
        using var store = KgVerb.OpenForReading(db);
        var output = new StringBuilder();
        if (patterns is not null) Patterns(store, patterns, limit, json, output);
        else if (neighbours is not null) Neighbours(store, KgVerb.ResolveEntity(store, neighbours, "--neighbours"), hops ?? 1, limit, json, output);
        else Paths(store, KgVerb.ResolveEntity(store, path![0], "--path"), KgVerb.ResolveEntity(store, path[1], "--path"), hops ?? 2, limit, json, output);
        Console.Write(output.ToString());
        return 0;
    }

    static void Patterns(KnowledgeStore store, string text, int? limit, bool json, StringBuilder output)
    {
        GraphQuery query;
        try { query = GraphQuery.Parse(text, store); }
        catch (ArgumentException e) { throw new UserInputException($"kg query: {e.Message}"); }
        var result = query.Run(store, limit);
        if (json)
        {
            foreach (var row in result.Rows)
            {
                var fields = new Dictionary<string, object?>();
                for (int i = 0; i < result.Variables.Count; i++) fields[result.Variables[i]] = Value(store, row[i], result.RelationVariables.Contains(result.Variables[i]));
                output.Append(JsonSerializer.Serialize(fields, KgVerb.Json)).Append('\n');
            }
            return;
        }
        output.Append(string.Join('\t', result.Variables.Select(v => "?" + v))).Append('\n');
        foreach (var row in result.Rows)
            output.Append(string.Join('\t', row.Select((v, i) => result.RelationVariables.Contains(result.Variables[i]) ? v.Value : KgVerb.Show(store, v)))).Append('\n');
        output.Append($"({result.Rows.Count} row{(result.Rows.Count == 1 ? "" : "s")}{(limit is { } l && result.Rows.Count == l ? ", limited" : "")})\n");
    }

    static object Value(IKnowledgeGraph graph, Term term, bool relation)
    {
        if (relation) return new { kind = "relation", value = term.Value };
        return term.Kind == TermKind.Entity
            ? new { kind = "entity", value = term.Value, name = graph.FindEntity(term.Value)?.Name }
            : new { kind = term.Kind.ToString().ToLowerInvariant(), value = term.Value, name = (string?)null };
    }

    static void Neighbours(KnowledgeStore store, KgEntity entity, int hops, int? limit, bool json, StringBuilder output)
    {
        var facts = GraphPaths.Neighbourhood(store, entity.Id, hops);
        foreach (var item in facts.Take(limit ?? int.MaxValue))
        {
            if (json) output.Append(JsonSerializer.Serialize(new { hop = item.Hop, fact = Fact(store, item.Fact) }, KgVerb.Json)).Append('\n');
            else output.Append($"{item.Hop}\t{KgVerb.Show(store, Term.Entity(item.Fact.Subject))}\t{item.Fact.Relation}\t{KgVerb.Show(store, item.Fact.Object)}\t{Statement(store, item.Fact)}\n");
        }
        if (!json) output.Append($"({facts.Count} facts within {hops} hop{(hops == 1 ? "" : "s")} of {entity.Id} ({entity.Name}))\n");
    }

    static void Paths(KnowledgeStore store, KgEntity from, KgEntity to, int hops, int? limit, bool json, StringBuilder output)
    {
        if (from.Id == to.Id) throw new UserInputException($"kg query: --path needs two different entities, not {from.Id} twice");
        var paths = GraphPaths.Paths(store, from.Id, to.Id, hops);
        foreach (var p in paths.Take(limit ?? int.MaxValue))
        {
            if (json)
            {
                output.Append(JsonSerializer.Serialize(p.Select(s => new { forward = s.Forward, fact = Fact(store, s.Fact) }), KgVerb.Json)).Append('\n');
                continue;
            }
            // from —capital→ Paris ←borders— …: walk the steps, writing each entity reached.
            string at = from.Id;
            var line = new StringBuilder(KgVerb.Show(store, Term.Entity(at)));
            foreach (var step in p)
            {
                string next = step.Forward ? step.Fact.Object.Value : step.Fact.Subject;
                line.Append(step.Forward ? $" -{step.Fact.Relation}-> " : $" <-{step.Fact.Relation}- ").Append(KgVerb.Show(store, Term.Entity(next)));
                at = next;
            }
            output.Append(line).Append('\n');
        }
        output.Append($"({paths.Count} path{(paths.Count == 1 ? "" : "s")} of at most {hops} hop{(hops == 1 ? "" : "s")})\n");
    }

    static object Fact(IKnowledgeGraph graph, Triple fact) => new
    {
        s = fact.Subject, p = fact.Relation, o = fact.Object.Value, o_kind = fact.Object.Kind.ToString().ToLowerInvariant(),
        source = fact.Source, text = Statement(graph, fact),
    };

    static string Statement(IKnowledgeGraph graph, Triple fact) => FactText.Statement(graph, fact).Replace("\n", "\\n");
}
