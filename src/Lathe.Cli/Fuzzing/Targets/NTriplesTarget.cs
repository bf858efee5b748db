using System.Text;
using Lathe.Knowledge.Store;

namespace Lathe.Cli.Fuzzing.Targets;

/// <summary>N-Triples as `kg import --graph G --input FILE.nt` reads it: <see cref="KnowledgeStore.Import"/> into a
/// new SQLite store (one transaction), then the store's statistics. Seed: a small graph using every mapping the
/// reader knows (entities, relations, labels, aliases, types, typed and language-tagged literals, blank nodes, escapes).</summary>
internal sealed class NTriplesTarget : FuzzTarget
{
    public override string Name => "ntriples";
    const string File = "graph.nt";

    const string Graph =
        "<urn:lathe:entity:france> <http://www.w3.org/2000/01/rdf-schema#label> \"France\"@en .\n" +
        "<urn:lathe:entity:france> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <urn:lathe:type:country> .\n" +
        "<urn:lathe:entity:france> <http://www.w3.org/2004/02/skos/core#altLabel> \"R\\u00E9publique fran\\u00E7aise\" .\n" +
        "<urn:lathe:entity:paris> <http://www.w3.org/2000/01/rdf-schema#label> \"Paris\" .\n" +
        "<urn:lathe:entity:paris> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <urn:lathe:type:city> .\n" +
        "<urn:lathe:relation:capital> <http://www.w3.org/2000/01/rdf-schema#label> \"capital\" .\n" +
        "<urn:lathe:entity:france> <urn:lathe:relation:capital> <urn:lathe:entity:paris> .\n" +
        "<urn:lathe:entity:france> <urn:lathe:relation:population> \"68000000\"^^<http://www.w3.org/2001/XMLSchema#integer> .\n" +
        "<urn:lathe:entity:france> <urn:lathe:relation:area_km2> \"551695.5\"^^<http://www.w3.org/2001/XMLSchema#decimal> .\n" +
        "<urn:lathe:entity:paris> <urn:lathe:relation:founded> \"0250\"^^<http://www.w3.org/2001/XMLSchema#gYear> .\n" +
        "<urn:lathe:entity:paris> <urn:lathe:relation:motto> \"Fluctuat nec \\\"mergitur\\\"\"^^<http://www.w3.org/2001/XMLSchema#string> .\n" +
        "_:keeper <http://www.w3.org/2000/01/rdf-schema#label> \"The keeper\" .\n" +
        "_:keeper <urn:lathe:relation:lives_in> <urn:lathe:entity:paris> .\n" +
        "# a comment line\n" +
        "<http://example.org/thing/1> <urn:lathe:relation:born> \"1852-03-02\"^^<http://www.w3.org/2001/XMLSchema#date> .\n";

    protected override IReadOnlyList<FuzzSeed> MakeSeeds(string workDir) =>
    [
        new FuzzSeed("graph", new Dictionary<string, byte[]> { [File] = Encoding.UTF8.GetBytes(Graph) },
            new Dictionary<string, IReadOnlyList<Mutator>> { [File] = LineMutators.All }),
    ];

    public override string UserPath(string caseDir, FuzzSeed seed) => Path.Combine(caseDir, File);

    public override void Run(string caseDir, FuzzSeed seed)
    {
        using var store = KnowledgeStore.Create(Path.Combine(caseDir, "kg.sqlite"));
        store.Import(Path.Combine(caseDir, File));
        _ = store.Stats();
    }
}
