using System.CommandLine;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe kg export --out FILE.nt`: the graph as N-Triples (entities, names, types, relation labels, facts;
/// sources and relation templates stay behind — JSONL is the lossless format). Written atomically.</summary>
internal static class KgExportVerb
{
    public static Command Create()
    {
        var db = KgVerb.DbOption();
        var output = new Option<string>("--out") { Description = "The N-Triples file to write (.nt).", Required = true };
        var command = new Command("export", "Export the graph as N-Triples.") { db, output };
        command.SetAction(r => Run(r.GetValue(db)!, r.GetValue(output)!));
        return command;
    }

    static int Run(string db, string output)
    {
        if (!output.EndsWith(".nt", StringComparison.OrdinalIgnoreCase)) throw new UserInputException($"kg export: --out {output} must end in .nt");
        using var store = KgVerb.OpenForReading(db);
        store.ExportNTriples(output);
        var stats = store.Stats();
        Console.WriteLine($"{output}: {stats.Entities} entities, {stats.Facts} facts, {stats.Relations} relation labels");
        return 0;
    }
}
