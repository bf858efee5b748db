using Lathe.Knowledge;
using Lathe.Knowledge.Store;

namespace Lathe.Tests.Knowledge.Store;

/// <summary>What each format imports to, by hand-written files whose expected graph is spelled out; and the N-Triples
/// round trip (JSONL → store → N-Triples → new store keeps every triple, entity and name).</summary>
public class ImportFormatTests
{
    [Fact]
    public void Jsonl_may_use_relations_and_entities_before_declaring_them()
    {
        using var folder = new TempFolder();
        using var store = KnowledgeStore.Create(folder.File("g.db"));
        var counts = store.Import(folder.Write("late.jsonl", """
            {"s":"country/FRA","p":"capital","o":"city/paris"}
            {"s":"country/FRA","p":"area_km2","o":551695.0}

            {"s":"country/FRA","p":"area_km2","o":551695}
            {"relation":"capital","label":"capital","object":"entity","functional":true,"statement":"The capital of {s} is {o}.","questions":["What is the capital of {s}?"]}
            {"relation":"area_km2","label":"area","object":"number","statement":"{s} has {o} km²."}
            {"entity":"country/FRA","name":"France","aliases":["French Republic"],"type":"country"}
            {"entity":"city/paris","name":"Paris","type":"city"}
            """), source: "hand");
        Assert.Equal(new ImportCounts(2, 2, 2, 1), counts);
        Assert.Equal([new Triple("country/FRA", "area_km2", Term.Number(551695), "hand"), new Triple("country/FRA", "capital", Term.Entity("city/paris"), "hand")],
            store.Match("country/FRA", null, null));
        var area = store.FindRelation("area_km2")!;
        Assert.False(area.Functional);
        Assert.Empty(area.Questions);
        Assert.Equal("The capital of France is Paris.", FactText.Statement(store, store.Match(null, "capital", null)[0]));
    }

    [Fact]
    public void Csv_reads_rfc4180_quoting_crlf_a_bom_and_default_sources()
    {
        using var folder = new TempFolder();
        using var store = KnowledgeStore.Create(folder.File("g.db"));
        store.Import(folder.Write("schema.jsonl", """
            {"relation":"motto","label":"motto","object":"string","statement":"{s}: {o}"}
            {"relation":"area_km2","label":"area","object":"number","statement":"{s} has {o} km²."}
            {"relation":"founded","label":"founded","object":"date","statement":"{s} was founded in {o}."}
            {"relation":"borders","label":"borders","object":"entity","statement":"{s} borders {o}."}
            {"entity":"country/A","name":"A","type":"country"}
            {"entity":"country/B","name":"B","type":"country"}
            """));
        string csv = "\uFEFFsubject,relation,object,source\r\n"
                     + "country/A,motto,\"Liberty, \"\"equality\"\"\r\nand more\",\r\n"
                     + "country/A,area_km2,12.50,census\r\n"
                     + "\"country/A\",founded,1066,\r\n"
                     + "country/A,borders,country/B,\r\n";
        var counts = store.Import(folder.Write("facts.csv", csv));
        Assert.Equal(new ImportCounts(0, 0, 4, 0), counts);
        Assert.Equal(
        [
            new Triple("country/A", "area_km2", Term.Number(12.5), "census"),
            new Triple("country/A", "borders", Term.Entity("country/B"), "facts.csv"),
            new Triple("country/A", "founded", Term.Date("1066"), "facts.csv"),
            new Triple("country/A", "motto", Term.Text("Liberty, \"equality\"\r\nand more"), "facts.csv"),
        ], store.Match("country/A", null, null));
    }

    [Fact]
    public void NTriples_maps_labels_aliases_types_datatypes_and_foreign_iris()
    {
        using var folder = new TempFolder();
        using var store = KnowledgeStore.Create(folder.File("g.db"));
        var counts = store.Import(folder.Write("hand.nt", """
            # Lathe's own IRIs
            <urn:lathe:relation:founded> <http://www.w3.org/2000/01/rdf-schema#label> "founded in" .
            <urn:lathe:entity:city/san-jose> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <urn:lathe:type:city> .
            <urn:lathe:entity:city/san-jose> <http://www.w3.org/2000/01/rdf-schema#label> "San Jos\u00E9" .
            <urn:lathe:entity:city/san-jose> <http://www.w3.org/2000/01/rdf-schema#label> "San Jose"@en .
            <urn:lathe:entity:city/san-jose> <http://www.w3.org/2004/02/skos/core#altLabel> "SJ" .
            <urn:lathe:entity:city/san-jose> <urn:lathe:relation:founded> "1777"^^<http://www.w3.org/2001/XMLSchema#gYear> .
            <urn:lathe:entity:city/san-jose> <urn:lathe:relation:population> "1013240"^^<http://www.w3.org/2001/XMLSchema#integer> .
            <urn:lathe:entity:city/san-jose> <urn:lathe:relation:motto> "Say \"hi\"\n\\ \U0001F600"	.
            <urn:lathe:entity:city/san-jose> <http://xmlns.com/foaf/0.1/based_near> _:b1.
            _:b1 <http://xmlns.com/foaf/0.1/based_near> <http://example.org/place%20x> .
            """), source: "handmade");
        Assert.Equal(new ImportCounts(3, 5, 5, 0), counts);   // entities san-jose, _:b1, example.org; relations founded (made, then labelled), population, motto, based_near
        var city = store.FindEntity("city/san-jose")!;
        Assert.Equal(("San José", "city"), (city.Name, city.Type));
        Assert.Equal(["San Jose", "SJ"], city.Aliases);
        Assert.Equal(("_:b1", "thing"), (store.FindEntity("_:b1")!.Name, store.FindEntity("_:b1")!.Type));
        Assert.NotNull(store.FindEntity("http://example.org/place%20x"));
        Assert.Equal([
            new Triple("city/san-jose", "founded", Term.Date("1777"), "handmade"),
            new Triple("city/san-jose", "http://xmlns.com/foaf/0.1/based_near", Term.Entity("_:b1"), "handmade"),
            new Triple("city/san-jose", "motto", Term.Text("Say \"hi\"\n\\ \U0001F600"), "handmade"),
            new Triple("city/san-jose", "population", Term.Number(1013240), "handmade"),
        ], store.Match("city/san-jose", null, null));
        var founded = store.FindRelation("founded")!;
        Assert.Equal(("founded in", TermKind.Date, "{s} founded in {o}."), (founded.Label, founded.ObjectKind, founded.Statement));
        var near = store.FindRelation("http://xmlns.com/foaf/0.1/based_near")!;
        Assert.Equal(("based_near", TermKind.Entity, "{s} based_near {o}."), (near.Label, near.ObjectKind, near.Statement));
        Assert.Equal(["city/san-jose"], store.EntitiesNamed("san jose").Select(e => e.Id));
    }

    [Theory]
    [InlineData(21)]
    [InlineData(22)]
    public void NTriples_export_round_trips_triples_entities_and_names(int seed)
    {
        var (oracle, jsonl) = StoreFixtures.RandomGraph(seed);
        using var folder = new TempFolder();
        using var first = KnowledgeStore.Create(folder.File("a.db"));
        first.Import(folder.Write("g.jsonl", jsonl));
        first.ExportNTriples(folder.File("g.nt"));
        using var second = KnowledgeStore.Create(folder.File("b.db"));
        second.Import(folder.File("g.nt"));
        Assert.Equal(StoreFixtures.Dump(oracle, withSources: false), StoreFixtures.Dump(second, withSources: false));
        Assert.Equal(first.Relations().Select(r => (r.Id, r.Label, r.ObjectKind)), second.Relations().Select(r => (r.Id, r.Label, r.ObjectKind)));
        foreach (var e in oracle.Entities())
            Assert.Equal(oracle.EntitiesNamed(e.Name).Select(x => x.Id), second.EntitiesNamed(e.Name).Select(x => x.Id));
        // A second export is the same file: the mapping is a fixed point.
        second.ExportNTriples(folder.File("g2.nt"));
        Assert.Equal(File.ReadAllText(folder.File("g.nt")), File.ReadAllText(folder.File("g2.nt")));
        Assert.Empty(Directory.GetFiles(folder.Path, "*.tmp"));
    }

    [Fact]
    public void Export_escapes_what_the_grammar_forbids()
    {
        var graph = new InMemoryGraph()
            .AddRelation(new KgRelation("says", "says \"loudly\"", TermKind.String, false, "{s} says {o}.", []))
            .AddEntity("odd id/<x> {y}|^`\\", "Tab\there", "type with space")
            .Add("odd id/<x> {y}|^`\\", "says", Term.Text("line\nbreak \"q\" back\\slash \u0001 é"));
        var text = new StringWriter();
        NTriplesWriter.Write(graph, text);
        Assert.Equal("""
            <urn:lathe:relation:says> <http://www.w3.org/2000/01/rdf-schema#label> "says \"loudly\"" .
            <urn:lathe:entity:odd\u0020id/\u003Cx\u003E\u0020\u007By\u007D\u007C\u005E\u0060\u005C> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <urn:lathe:type:type\u0020with\u0020space> .
            <urn:lathe:entity:odd\u0020id/\u003Cx\u003E\u0020\u007By\u007D\u007C\u005E\u0060\u005C> <http://www.w3.org/2000/01/rdf-schema#label> "Tab\there" .
            <urn:lathe:entity:odd\u0020id/\u003Cx\u003E\u0020\u007By\u007D\u007C\u005E\u0060\u005C> <urn:lathe:relation:says> "line\nbreak \"q\" back\\slash \u0001 é" .

            """.Replace("\r\n", "\n"), text.ToString());
        using var folder = new TempFolder();
        using var store = KnowledgeStore.Create(folder.File("g.db"));
        store.Import(folder.Write("odd.nt", text.ToString()));
        Assert.Equal(StoreFixtures.Dump(graph, withSources: false), StoreFixtures.Dump(store, withSources: false));
    }
}
