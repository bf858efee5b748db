using System.CommandLine;
using Lathe.Knowledge;
using Lathe.Knowledge.Store;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe kg …`: the knowledge graph — build it (import), write it out (export), ask it (query), count it
/// (stats). The graph is an SQLite file, by default runs/kg/graph.db.</summary>
internal static class KgVerb
{
    public const string DefaultDb = "runs/kg/graph.db";

    public static Command Create()
    {
        var kg = new Command("kg", "Knowledge graph: import, export, query and count the triple store.");
        kg.Subcommands.Add(KgImportVerb.Create());
        kg.Subcommands.Add(KgExportVerb.Create());
        kg.Subcommands.Add(KgQueryVerb.Create());
        kg.Subcommands.Add(KgStatsVerb.Create());
        kg.Subcommands.Add(KgVerbaliseVerb.Create());
        kg.Subcommands.Add(KgCheckVerb.Create());
        kg.Subcommands.Add(KgQuestionsVerb.Create());
        return kg;
    }

    /// <summary>JSON output keeps names readable ("Côte d'Ivoire", not "C\u00F4te"); it goes to a terminal or a file,
    /// never into HTML.</summary>
    public static readonly System.Text.Json.JsonSerializerOptions Json =
        new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The --db option every kg verb takes.</summary>
    public static Option<string> DbOption() =>
        new("--db") { Description = $"The graph file (SQLite).", DefaultValueFactory = _ => DefaultDb };

    /// <summary>Opens the graph for reading; a missing or foreign file is a one-line error (exit 2).</summary>
    public static KnowledgeStore OpenForReading(string db) => KnowledgeStore.Open(db, readOnly: true);

    /// <summary>An entity given on the command line: <c>[Name]</c> (or a bare name) through the graph's names, else an id.</summary>
    public static KgEntity ResolveEntity(IKnowledgeGraph graph, string text, string option)
    {
        string trimmed = text.Trim();
        try
        {
            if (trimmed.StartsWith('[') && trimmed.EndsWith(']')) return GraphQuery.ResolveName(trimmed[1..^1], graph);
            if (graph.FindEntity(trimmed) is { } byId) return byId;
            return GraphQuery.ResolveName(trimmed, graph);
        }
        catch (ArgumentException e) { throw new UserInputException($"{option}: {e.Message}"); }
    }

    /// <summary>How a value reads in a table: an entity as "id (Name)", a literal as its text.</summary>
    public static string Show(IKnowledgeGraph graph, Term value) => value.Kind == TermKind.Entity
        ? graph.FindEntity(value.Value) is { } e ? $"{e.Id} ({e.Name})" : value.Value
        : value.Kind == TermKind.String ? "\"" + value.Value.Replace("\n", "\\n") + "\"" : value.Value;
}
