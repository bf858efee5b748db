using System.CommandLine;
using System.Text.Json;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe kg stats`: totals, entities by type, facts by relation and by source (--json: one JSON object).</summary>
internal static class KgStatsVerb
{
    public static Command Create()
    {
        var db = KgVerb.DbOption();
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a table." };
        var command = new Command("stats", "Count the graph: entities by type, facts by relation and by source.") { db, json };
        command.SetAction(r => Run(r.GetValue(db)!, r.GetValue(json)));
        return command;
    }

    static int Run(string db, bool json)
    {
        using var store = KgVerb.OpenForReading(db);
        var stats = store.Stats();
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                db, entities = stats.Entities, names = stats.Names, relations = stats.Relations, facts = stats.Facts,
                entities_by_type = stats.EntitiesByType.ToDictionary(t => t.Type, t => t.Count),
                facts_by_relation = stats.FactsByRelation.ToDictionary(t => t.Relation, t => t.Count),
                facts_by_source = stats.FactsBySource.ToDictionary(t => t.Source, t => t.Count),
            }, KgVerb.Json));
            return 0;
        }
        Console.WriteLine($"{db}: {stats.Entities} entities ({stats.Names} names and aliases), {stats.Relations} relations, {stats.Facts} facts");
        Section("entities by type", stats.EntitiesByType);
        Section("facts by relation", stats.FactsByRelation);
        Section("facts by source", stats.FactsBySource);
        return 0;
    }

    static void Section(string title, IReadOnlyList<(string Name, long Count)> rows)
    {
        Console.WriteLine($"\n{title}:");
        int width = rows.Count == 0 ? 0 : rows.Max(r => r.Name.Length);
        foreach (var (name, count) in rows) Console.WriteLine($"  {name.PadRight(width)}  {count,9}");
    }
}
