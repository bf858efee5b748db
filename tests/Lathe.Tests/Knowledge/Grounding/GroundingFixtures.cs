using System.Text;
using System.Text.Json;
using Lathe.Knowledge;
using Lathe.Knowledge.Store;

namespace Lathe.Tests.Knowledge.Grounding;

/// <summary>A small hand-written graph for grounding and claim tests: countries with capitals, borders, areas and an
/// independence date; two entities named "Georgia" (a country and a US state) for ambiguity; Guinea, Guinea-Bissau
/// and Papua New Guinea for longest matches; elements whose symbols are English words ("He", "In"); WordNet-like
/// synsets whose lemmas are function words ("a", "in", "it") and a code made of two ("IT-IS"); and Ukraine, an entity with no facts (abstention).</summary>
internal static class GroundingFixtures
{
    public static InMemoryGraph Graph()
    {
        var g = new InMemoryGraph();
        g.AddRelation(new KgRelation("capital", "capital", TermKind.Entity, true, "The capital of {s} is {o}.",
            ["What is the capital of {s}?", "Which city is the capital of {s}?", "{s}'s capital is which city?"]));
        g.AddRelation(new KgRelation("capital_of", "capital of", TermKind.Entity, true, "{s} is the capital of {o}.",
            ["What is {s} the capital of?"]));
        g.AddRelation(new KgRelation("borders", "borders", TermKind.Entity, false, "{s} borders {o}.",
            ["Which countries border {s}?", "What does {s} border?"]));
        g.AddRelation(new KgRelation("area_km2", "area", TermKind.Number, true, "The area of {s} is {o} square kilometres.",
            ["What is the area of {s}?", "How large is {s} in square kilometres?"]));
        g.AddRelation(new KgRelation("independence", "independence", TermKind.Date, true, "{s} became independent in {o}.",
            ["When did {s} become independent?"]));
        g.AddRelation(new KgRelation("landlocked", "landlocked", TermKind.String, true, "Is {s} landlocked? {o}.", ["Is {s} landlocked?"]));
        g.AddRelation(new KgRelation("atomic_number", "atomic number", TermKind.Number, true, "The atomic number of {s} is {o}.",
            ["What is the atomic number of {s}?"]));
        g.AddRelation(new KgRelation("symbol", "chemical symbol", TermKind.String, true, "The chemical symbol of {s} is {o}.",
            ["What is the chemical symbol of {s} in the periodic table?", "What is the symbol of {s}?"]));
        g.AddRelation(new KgRelation("currency_symbol", "currency symbol", TermKind.String, true, "The symbol of {s} is {o}.",
            ["What is the symbol of {s}?"]));
        g.AddRelation(new KgRelation("definition", "definition", TermKind.String, false, "{s} means {o}.",
            ["What does {s} mean?", "What is the meaning of {s}?"]));

        g.AddEntity("country/FRA", "France", "country", "French Republic", "FRA");
        g.AddEntity("country/ESP", "Spain", "country", "Kingdom of Spain", "ESP");
        g.AddEntity("country/ITA", "Italy", "country", "Italian Republic", "ITA");
        g.AddEntity("country/DEU", "Germany", "country", "Federal Republic of Germany", "DEU");
        g.AddEntity("country/BEL", "Belgium", "country", "Kingdom of Belgium", "BEL");
        g.AddEntity("country/PRT", "Portugal", "country", "Portuguese Republic", "PRT");
        g.AddEntity("country/GEO", "Georgia", "country", "GEO");
        g.AddEntity("subdivision/US-GA", "Georgia", "subdivision");
        g.AddEntity("country/GIN", "Guinea", "country", "GIN");
        g.AddEntity("country/GNB", "Guinea-Bissau", "country", "GNB");
        g.AddEntity("country/PNG", "Papua New Guinea", "country", "PNG");
        g.AddEntity("country/GMB", "The Gambia", "country", "Gambia");
        g.AddEntity("country/UKR", "Ukraine", "country", "UKR");
        g.AddEntity("subdivision/IT-IS", "Isernia", "subdivision", "IT-IS");
        g.AddEntity("currency/EUR", "Euro", "currency", "EUR");
        g.AddEntity("city/paris-fra", "Paris", "city");
        g.AddEntity("city/madrid", "Madrid", "city");
        g.AddEntity("city/rome", "Rome", "city");
        g.AddEntity("city/berlin", "Berlin", "city");
        g.AddEntity("city/tbilisi", "Tbilisi", "city");
        g.AddEntity("city/atlanta", "Atlanta", "city");
        g.AddEntity("city/port-moresby", "Port Moresby", "city");
        g.AddEntity("element/He", "Helium", "element", "He");
        g.AddEntity("element/Fe", "Iron", "element", "Fe");
        g.AddEntity("element/In", "Indium", "element", "In");
        g.AddEntity("element/Sn", "Tin", "element", "Sn");
        g.AddEntity("synset/n-dog", "dog", "synset", "domestic dog", "Canis familiaris");
        g.AddEntity("synset/n-ampere", "ampere", "synset", "amp", "A");
        g.AddEntity("synset/n-inch", "inch", "synset", "in");
        g.AddEntity("synset/n-it", "information technology", "synset", "IT", "it");

        g.Add("country/FRA", "capital", Term.Entity("city/paris-fra"));
        g.Add("city/paris-fra", "capital_of", Term.Entity("country/FRA"));
        foreach (var n in new[] { "country/ESP", "country/ITA", "country/DEU", "country/BEL" }) g.Add("country/FRA", "borders", Term.Entity(n));
        g.Add("country/FRA", "area_km2", Term.Number(551695));
        g.Add("country/ESP", "capital", Term.Entity("city/madrid"));
        g.Add("country/ESP", "area_km2", Term.Number(505990));
        g.Add("country/ESP", "borders", Term.Entity("country/FRA"));
        g.Add("country/ESP", "borders", Term.Entity("country/PRT"));
        g.Add("country/ITA", "capital", Term.Entity("city/rome"));
        g.Add("country/DEU", "capital", Term.Entity("city/berlin"));
        g.Add("country/GEO", "capital", Term.Entity("city/tbilisi"));
        g.Add("country/GEO", "area_km2", Term.Number(69700));
        g.Add("subdivision/US-GA", "capital", Term.Entity("city/atlanta"));
        g.Add("country/PNG", "capital", Term.Entity("city/port-moresby"));
        g.Add("country/BEL", "independence", Term.Date("1830"));
        g.Add("country/DEU", "landlocked", Term.Text("No"));
        g.Add("country/GEO", "independence", Term.Date("1991"));
        g.Add("subdivision/US-GA", "independence", Term.Date("1776"));
        g.Add("synset/n-inch", "definition", Term.Text("a unit of length"));
        g.Add("element/He", "atomic_number", Term.Number(2));
        g.Add("element/Fe", "atomic_number", Term.Number(26));
        g.Add("element/Fe", "symbol", Term.Text("Fe"));
        g.Add("currency/EUR", "currency_symbol", Term.Text("€"));
        g.Add("synset/n-dog", "definition", Term.Text("a member of the genus Canis"));
        return g;
    }

    /// <summary>The fixture graph as a SQLite store file at <paramref name="path"/> (through the JSONL importer).</summary>
    public static void WriteStore(string path)
    {
        var g = Graph();
        string jsonl = Path.ChangeExtension(path, ".jsonl");
        var s = new StringBuilder();
        foreach (var r in g.Relations())
            s.Append(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["relation"] = r.Id, ["label"] = r.Label, ["object"] = r.ObjectKind.ToString().ToLowerInvariant(),
                ["functional"] = r.Functional, ["statement"] = r.Statement, ["questions"] = r.Questions,
            })).Append('\n');
        foreach (var e in g.Entities())
            s.Append(JsonSerializer.Serialize(new { entity = e.Id, name = e.Name, aliases = e.Aliases, type = e.Type })).Append('\n');
        foreach (var t in g.Match(null, null, null))
        {
            object o = t.Object.Kind == TermKind.Number ? double.Parse(t.Object.Value, System.Globalization.CultureInfo.InvariantCulture) : t.Object.Value;
            s.Append(JsonSerializer.Serialize(new { s = t.Subject, p = t.Relation, o, source = t.Source })).Append('\n');
        }
        File.WriteAllText(jsonl, s.ToString());
        using var store = KnowledgeStore.Create(path);
        store.Import(jsonl);
    }
}
