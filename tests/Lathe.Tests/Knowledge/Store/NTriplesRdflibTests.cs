using System.Diagnostics;
using Lathe.Knowledge.Store;

namespace Lathe.Tests.Knowledge.Store;

/// <summary>The N-Triples export against an independent reader and writer: rdflib (Debian's python3-rdflib, run with
/// /usr/bin/python3) parses Lathe's file, and writes the graph back as N-Triples in its own style; Lathe reads rdflib's
/// file into the same graph. A wrong escape on either side fails one of the two steps.</summary>
public class NTriplesRdflibTests
{
    const string Script = """
        import sys, rdflib
        g = rdflib.Graph()
        g.parse(sys.argv[1], format="nt")
        g.serialize(destination=sys.argv[2], format="nt", encoding="utf-8")
        print(len(g))
        """;

    [Fact]
    public async Task Rdflib_reads_the_export_and_its_own_output_imports_to_the_same_graph()
    {
        var (oracle, jsonl) = StoreFixtures.RandomGraph(51);
        using var folder = new TempFolder();
        using (var store = KnowledgeStore.Create(folder.File("a.db")))
        {
            store.Import(folder.Write("g.jsonl", jsonl));
            store.ExportNTriples(folder.File("lathe.nt"));
        }
        int lines = File.ReadAllLines(folder.File("lathe.nt")).Length;
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { "-c", Script, folder.File("lathe.nt"), folder.File("rdflib.nt") }) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, "rdflib (apt-get install python3-rdflib) failed: " + await error);
        Assert.Equal(lines, int.Parse(output.Trim()));   // every line one distinct triple, as rdflib counts them
        using var back = KnowledgeStore.Create(folder.File("b.db"));
        back.Import(folder.File("rdflib.nt"));
        // An RDF graph is a set: rdflib writes a subject's altLabels in its own order, so aliases compare as sets.
        Assert.Equal(AliasesAsSets(StoreFixtures.Dump(oracle, withSources: false)), AliasesAsSets(StoreFixtures.Dump(back, withSources: false)));
    }

    static List<string> AliasesAsSets(List<string> dump) => dump.Select(line =>
    {
        if (!line.StartsWith("E ")) return line;
        int cut = line.LastIndexOf(" | ", StringComparison.Ordinal);
        return line[..cut] + " | " + string.Join(" ; ", line[(cut + 3)..].Split(" ; ").Order(StringComparer.Ordinal));
    }).ToList();
}
