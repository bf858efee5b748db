using System.IO.Compression;
using System.Text;
using Lathe.Knowledge;
using Lathe.Knowledge.Store;

namespace Lathe.Tests.Knowledge.Store;

/// <summary>Every kind of bad input, in each format: the error is one line naming file and line, and the graph is
/// exactly what it was before the import (one transaction per import, rolled back whole).</summary>
public class ImportErrorTests
{
    // Good lines before each bad one, so a partial import would show.
    const string GoodJsonl = """
        {"entity":"country/NEW","name":"Newland","aliases":["NL"],"type":"country"}
        {"s":"country/NEW","p":"area_km2","o":12.5}
        {"s":"country/NEW","p":"borders","o":"city/e000"}
        """;

    static void AssertRefused(string fileName, string text, string expectedLocation, string expectedWhat)
    {
        var (_, jsonl) = StoreFixtures.RandomGraph(11, entities: 12, facts: 60);
        using var folder = new TempFolder();
        using var store = KnowledgeStore.Create(folder.File("g.db"));
        store.Import(folder.Write("base.jsonl", jsonl));
        var before = StoreFixtures.Dump(store);
        var relationsBefore = store.Relations().Select(r => r.ToString()).ToList();
        string path = folder.File(fileName);
        if (fileName.EndsWith(".gz"))
        {
            using var gz = new GZipStream(File.Create(path), CompressionLevel.Fastest);
            gz.Write(Encoding.UTF8.GetBytes(text));
        }
        else File.WriteAllText(path, text);
        var e = Assert.Throws<InvalidDataException>(() => store.Import(path));
        Assert.StartsWith(path + ":" + expectedLocation.Split(':')[1] + ": ", e.Message);
        Assert.Contains(expectedWhat, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(before, StoreFixtures.Dump(store));
        Assert.Equal(relationsBefore, store.Relations().Select(r => r.ToString()).ToList());
        // And on disk: a fresh connection sees the same.
        using var reopened = KnowledgeStore.Open(folder.File("g.db"), readOnly: true);
        Assert.Equal(before, StoreFixtures.Dump(reopened));
    }

    [Theory]
    [InlineData("{\"s\":\"country/NEW\",\"p\":\"area_km2\",\"o\":3", "not a JSON object")]
    [InlineData("[1,2]", "not a JSON object")]
    [InlineData("{\"s\":\"country/NEW\",\"p\":\"population\",\"o\":3}", "unknown relation 'population'")]
    [InlineData("{\"s\":\"country/NEW\",\"p\":\"area_km2\",\"o\":\"big\"}", "relation 'area_km2' takes number objects, but 'o' is the string \"big\"")]
    [InlineData("{\"s\":\"country/NEW\",\"p\":\"capital\",\"o\":7}", "relation 'capital' takes entity objects, but 'o' is the number 7")]
    [InlineData("{\"s\":\"country/NEW\",\"p\":\"founded\",\"o\":\"in 1800\"}", "takes ISO dates")]
    [InlineData("{\"s\":\"country/NEW\",\"p\":\"founded\",\"o\":\"1800-13-01\"}", "takes ISO dates")]
    [InlineData("{\"s\":\"country/NEW\",\"p\":\"capital\",\"o\":\"city/atlantis\"}", "fact names entity 'city/atlantis', which the graph does not have")]
    [InlineData("{\"s\":\"country/NOPE\",\"p\":\"motto\",\"o\":\"hi\"}", "fact names entity 'country/NOPE'")]
    [InlineData("{\"s\":\"country/NEW\",\"p\":\"motto\",\"o\":\"hi\",\"sauce\":\"x\"}", "unknown field 'sauce'")]
    [InlineData("{\"entity\":\"country/X\",\"name\":\"X\"}", "missing field 'type'")]
    [InlineData("{\"entity\":\"country/X\",\"name\":\"\",\"type\":\"country\"}", "name is empty")]
    [InlineData("{\"relation\":\"r\",\"label\":\"r\",\"object\":\"colour\",\"statement\":\"{s} r {o}.\"}", "\"colour\" is not one of entity, string, number, date")]
    [InlineData("{\"relation\":\"r\",\"label\":\"r\",\"object\":\"string\",\"statement\":\"{s} r.\"}", "must contain {s} and {o}")]
    [InlineData("{\"relation\":\"area_km2\",\"label\":\"area\",\"object\":\"string\",\"statement\":\"{s} has {o}.\"}", "cannot become string")]
    [InlineData("{\"hello\":1}", "expected a relation")]
    public void Jsonl_errors_name_file_and_line_and_keep_the_graph(string badLine, string what)
    {
        AssertRefused("bad.jsonl", GoodJsonl + "\n" + badLine + "\n{\"s\":\"country/NEW\",\"p\":\"motto\",\"o\":\"after\"}\n", "bad.jsonl:4", what);
    }

    [Fact]
    public void A_gzipped_file_names_its_line_too() =>
        AssertRefused("bad.jsonl.gz", GoodJsonl + "\n{oops\n", "bad.jsonl.gz:4", "not a JSON object");

    [Fact]
    public void A_missing_entity_is_reported_at_the_first_line_naming_it()
    {
        // The fact on line 2 names city/atlantis; line 3 names it again; neither is declared by the end.
        AssertRefused("late.jsonl", """
            {"entity":"country/NEW","name":"Newland","type":"country"}
            {"s":"country/NEW","p":"capital","o":"city/atlantis"}
            {"s":"country/NEW","p":"borders","o":"city/atlantis"}
            """, "late.jsonl:2", "city/atlantis");
    }

    [Theory]
    [InlineData("<urn:lathe:entity:country/NEW> <urn:lathe:relation:motto> \"x\"", "expected '.' after the object")]
    [InlineData("<urn:lathe:entity:country/NEW <urn:lathe:relation:motto> \"x\" .", "not allowed in an IRI")]
    [InlineData("<urn:lathe:entity:country/NEW> <urn:lathe:relation:motto> \"x .", "not closed")]
    [InlineData("<urn:lathe:entity:country/NEW> <urn:lathe:relation:motto> \"a\\qb\" .", "unknown escape '\\q'")]
    [InlineData("<urn:lathe:entity:country/NEW> <urn:lathe:relation:motto> \"\\u12\" .", "bad escape")]
    [InlineData("\"lit\" <urn:lathe:relation:motto> \"x\" .", "expected the subject")]
    [InlineData("<urn:lathe:entity:country/NEW> _:p \"x\" .", "a predicate must be an IRI")]
    [InlineData("<urn:lathe:entity:country/NEW> <urn:lathe:relation:motto> \"x\" . extra", "unexpected text after '.'")]
    [InlineData("<urn:lathe:entity:country/NEW> <urn:lathe:relation:area_km2> \"big\" .", "relation 'area_km2' takes number objects, not string")]
    [InlineData("<urn:lathe:entity:country/NEW> <urn:lathe:relation:area_km2> \"big\"^^<http://www.w3.org/2001/XMLSchema#double> .", "takes numbers, not \"big\"")]
    [InlineData("<urn:lathe:entity:country/NEW> <urn:lathe:relation:motto> \"1\"^^<http://example.org/weird> .", "unsupported datatype <http://example.org/weird>")]
    [InlineData("<urn:lathe:entity:country/NEW> <http://www.w3.org/2000/01/rdf-schema#label> <urn:lathe:entity:x> .", "rdfs:label needs a string literal")]
    public void NTriples_errors_name_file_and_line_and_keep_the_graph(string badLine, string what)
    {
        const string good = """
            <urn:lathe:entity:country/NEW> <urn:lathe:relation:area_km2> "12.5"^^<http://www.w3.org/2001/XMLSchema#double> .
            <urn:lathe:entity:country/NEW> <http://www.w3.org/2000/01/rdf-schema#label> "Newland" .
            # a comment line
            """;
        AssertRefused("bad.nt", good + "\n" + badLine + "\n", "bad.nt:4", what);
    }

    [Theory]
    [InlineData("country/NEW,area_km2,12,number,src\ncountry/NEW,motto", "bad.csv:3", "2 fields, but the header has 5")]
    [InlineData("country/NEW,motto,\"unclosed,string,src\n", "bad.csv:2", "a quoted field is not closed")]
    [InlineData("country/NEW,motto,\"a\"b,string,src\n", "bad.csv:2", "text after a closing quote")]
    [InlineData("country/NEW,motto,a\"b,string,src\n", "bad.csv:2", "a quote inside an unquoted field")]
    [InlineData("\"multi\nline\",motto,x,string,src\ncountry/NEW,population,3,number,src\n", "bad.csv:4", "unknown relation 'population'")]
    [InlineData("country/NEW,area_km2,lots,,src\n", "bad.csv:2", "takes numbers, not \"lots\"")]
    [InlineData("country/NEW,area_km2,3,string,src\n", "bad.csv:2", "takes number objects, not string")]
    [InlineData("country/NEW,area_km2,3,colour,src\n", "bad.csv:2", "object_type \"colour\"")]
    [InlineData("country/e001,capital,city/atlantis,entity,\n", "bad.csv:2", "city/atlantis")]
    public void Csv_errors_name_file_and_record_line_and_keep_the_graph(string rows, string location, string what)
    {
        // "multi\nline" is a subject with a line break inside quotes: the next record starts on line 4.
        AssertRefused("bad.csv", "subject,relation,object,object_type,source\n" + rows, location, what);
    }

    [Theory]
    [InlineData("subject,relation\n", "missing column 'object'")]
    [InlineData("subject,relation,object,colour\n", "unknown column 'colour'")]
    [InlineData("", "empty CSV file")]
    public void A_bad_csv_header_is_refused(string text, string what) => AssertRefused("h.csv", text, "h.csv:1", what);
}
