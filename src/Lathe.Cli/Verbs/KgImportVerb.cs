using System.CommandLine;
using Lathe.Knowledge.Store;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe kg import [FILE…]`: imports graph files (JSONL, N-Triples, CSV; .gz read as such) into the graph
/// file. The whole command is atomic: the files go into a copy of the graph (or a new one) beside it, which is renamed
/// into place only when every file imported; a bad line (file:line named) leaves the graph as it was. No FILE: the
/// shipped graph, data/kg/graph.jsonl.gz.</summary>
internal static class KgImportVerb
{
    public static Command Create()
    {
        var files = new Argument<string[]>("FILE") { Description = "Graph files (.jsonl, .nt, .csv, optionally .gz); none: the shipped data/kg/graph.jsonl.gz.", Arity = ArgumentArity.ZeroOrMore };
        var db = KgVerb.DbOption();
        var source = new Option<string?>("--source") { Description = "Source of facts that name none (default: the file's name)." };
        var command = new Command("import", "Import JSONL, N-Triples or CSV into the graph (atomically; errors name file and line).") { files, db, source };
        command.SetAction(r => Run(r.GetValue(files) ?? [], r.GetValue(db)!, r.GetValue(source)));
        return command;
    }

    static int Run(string[] files, string db, string? source)
    {
        if (source is { Length: 0 }) throw new UserInputException("kg import: --source must not be empty");
        if (files.Length == 0)
        {
            string shipped = Path.Combine(RepoPaths.Root(), "data", "kg", "graph.jsonl.gz");
            if (!File.Exists(shipped)) throw new UserInputException($"kg import: no FILE given and no shipped graph at {shipped}");
            files = [shipped];
        }
        foreach (string file in files)
        {
            GraphFileFormat.Of(file);   // an unknown extension fails before any work
            if (!File.Exists(file)) throw new UserInputException($"kg import: {file}: no such file");
        }
        string full = Path.GetFullPath(db);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        bool existed = File.Exists(full);
        try
        {
            if (existed)
            {
                KnowledgeStore.Open(full, readOnly: true).Dispose();   // refuse a foreign or old file before copying it
                File.Copy(full, temp);
            }
            var totals = new ImportCounts(0, 0, 0, 0);
            var report = new List<string>();
            using (var store = existed ? KnowledgeStore.Open(temp) : KnowledgeStore.Create(temp))
            {
                foreach (string file in files)
                {
                    var started = System.Diagnostics.Stopwatch.StartNew();
                    var counts = store.Import(file, source);
                    // Reported once all files are in: a later file's error takes back this one's facts too.
                    report.Add($"kg import: {file}: {counts.Entities} entities, {counts.Relations} relations, {counts.Facts} facts added, "
                               + $"{counts.Duplicates} duplicates ({started.Elapsed.TotalSeconds:F1} s)");
                    totals = new ImportCounts(totals.Entities + counts.Entities, totals.Relations + counts.Relations,
                        totals.Facts + counts.Facts, totals.Duplicates + counts.Duplicates);
                }
                foreach (string line in report) Console.Error.WriteLine(line);
                var stats = store.Stats();
                Console.WriteLine($"{db}: {stats.Entities} entities, {stats.Relations} relations, {stats.Facts} facts "
                                  + $"({totals.Facts} added, {totals.Duplicates} duplicates)");
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
            if (File.Exists(temp + "-journal")) File.Delete(temp + "-journal");
        }
        return 0;
    }
}
