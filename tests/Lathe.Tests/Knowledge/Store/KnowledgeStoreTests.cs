using Lathe.Knowledge;
using Lathe.Knowledge.Store;
using Microsoft.Data.Sqlite;

namespace Lathe.Tests.Knowledge.Store;

/// <summary>The SQLite store against the naive in-memory graph on seeded random graphs: every pattern shape, names and
/// aliases, entities, relations; and the file checks (new file, missing file, wrong schema version, not a graph).</summary>
public class KnowledgeStoreTests
{
    static KnowledgeStore Load(TempFolder folder, string jsonl)
    {
        var store = KnowledgeStore.Create(folder.File("graph.db"));
        store.Import(folder.Write("graph.jsonl", jsonl));
        return store;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Every_pattern_shape_matches_what_a_scan_finds(int seed)
    {
        var (oracle, jsonl) = StoreFixtures.RandomGraph(seed);
        using var folder = new TempFolder();
        using var store = Load(folder, jsonl);
        var all = oracle.Match(null, null, null);
        Assert.True(all.Count > 300, $"the fixture should have many facts, has {all.Count}");
        Assert.Equal(all, store.Match(null, null, null));
        var random = new Random(seed * 7);
        for (int shape = 1; shape < 8; shape++)
        {
            int nonEmpty = 0;
            for (int probe = 0; probe < 40; probe++)
            {
                // Half the probes take their bound positions from a real fact, half mix positions of two facts (often no match).
                var a = all[random.Next(all.Count)];
                var b = probe % 2 == 0 ? a : all[random.Next(all.Count)];
                string? s = (shape & 1) != 0 ? a.Subject : null;
                string? r = (shape & 2) != 0 ? b.Relation : null;
                Term? o = (shape & 4) != 0 ? a.Object : null;
                var expected = oracle.Match(s, r, o);
                Assert.Equal(expected, store.Match(s, r, o));
                if (expected.Count > 0) nonEmpty++;
            }
            Assert.True(nonEmpty >= 20, $"shape {shape}: only {nonEmpty} of 40 probes matched anything");
        }
        Assert.Empty(store.Match("country/nope", null, null));
        Assert.Empty(store.Match(null, null, Term.Number(-1.5)));
        // The same value as another kind is another object.
        Assert.Empty(store.Match(null, null, Term.Text(all.First(t => t.Object.IsEntity).Object.Value)));
    }

    [Fact]
    public void Entities_relations_and_names_agree_with_the_oracle()
    {
        var (oracle, jsonl) = StoreFixtures.RandomGraph(4);
        using var folder = new TempFolder();
        using var store = Load(folder, jsonl);
        Assert.Equal(StoreFixtures.Dump(oracle), StoreFixtures.Dump(store));
        Assert.Equal(oracle.Relations(), store.Relations(), new RelationComparer());
        foreach (var r in oracle.Relations()) Assert.True(new RelationComparer().Equals(r, store.FindRelation(r.Id)), r.Id);
        Assert.Null(store.FindRelation("nope"));
        Assert.Null(store.FindEntity("nope"));
        foreach (var e in oracle.Entities())
        {
            var found = store.FindEntity(e.Id)!;
            Assert.Equal((e.Name, e.Type), (found.Name, found.Type));
            Assert.Equal(e.Aliases, found.Aliases);
        }
        string[] asked = ["Côte d'Ivoire", "COTE D'IVOIRE", "côte-d'ivoire", "sao tome", "Zurich", "zürich 3", "alias 5", "ALIAS-7", "åland", "Georgia", "nobody"];
        foreach (string name in asked)
            Assert.Equal(oracle.EntitiesNamed(name).Select(x => x.Id), store.EntitiesNamed(name).Select(x => x.Id));
        Assert.True(store.EntitiesNamed("Côte d'Ivoire").Count > 1, "the fixture repeats names, so a bare name is ambiguous");
    }

    [Fact]
    public void An_alias_and_an_accent_free_spelling_find_the_entity()
    {
        using var folder = new TempFolder();
        using var store = Load(folder, """
            {"entity":"country/CIV","name":"Côte d'Ivoire","aliases":["Ivory Coast","CIV"],"type":"country"}
            {"entity":"country/GEO","name":"Georgia","aliases":[],"type":"country"}
            {"entity":"state/GA","name":"Georgia","aliases":["GA"],"type":"state"}
            """);
        Assert.Equal(["country/CIV"], store.EntitiesNamed("cote divoire").Select(e => e.Id));
        Assert.Equal(["country/CIV"], store.EntitiesNamed("IVORY  coast").Select(e => e.Id));
        Assert.Equal(["country/GEO", "state/GA"], store.EntitiesNamed("georgia").Select(e => e.Id));
        Assert.Empty(store.EntitiesNamed("Ivory"));
        Assert.Equal(["Ivory Coast", "CIV"], store.FindEntity("country/CIV")!.Aliases);
    }

    [Fact]
    public void Duplicate_facts_are_counted_and_kept_once()
    {
        var (oracle, jsonl) = StoreFixtures.RandomGraph(5);
        using var folder = new TempFolder();
        using var store = KnowledgeStore.Create(folder.File("g.db"));
        string path = folder.Write("g.jsonl", jsonl);
        var first = store.Import(path);
        int lines = jsonl.Split('\n').Count(l => l.StartsWith("{\"s\""));
        Assert.Equal(oracle.TripleCount, first.Facts);
        Assert.Equal(lines - oracle.TripleCount, first.Duplicates);
        Assert.Equal(StoreFixtures.Relations.Length, first.Relations);
        Assert.Equal(40, first.Entities);
        var second = store.Import(path);
        Assert.Equal((0, lines), (second.Facts, second.Duplicates));
        Assert.Equal(oracle.TripleCount, store.Match(null, null, null).Count);
    }

    [Fact]
    public void A_reopened_store_holds_the_same_graph()
    {
        var (oracle, jsonl) = StoreFixtures.RandomGraph(6);
        using var folder = new TempFolder();
        Load(folder, jsonl).Dispose();
        using var store = KnowledgeStore.Open(folder.File("graph.db"), readOnly: true);
        Assert.Equal(StoreFixtures.Dump(oracle), StoreFixtures.Dump(store));
        var stats = store.Stats();
        Assert.Equal((40L, (long)oracle.TripleCount, 5L), (stats.Entities, stats.Facts, stats.Relations));
        Assert.Equal(oracle.Entities().Count(e => e.Type == "country"), stats.EntitiesByType.Single(t => t.Type == "country").Count);
        foreach (var r in oracle.Relations())
            Assert.Equal(oracle.Match(null, r.Id, null).Count, stats.FactsByRelation.Single(x => x.Relation == r.Id).Count);
        Assert.Equal([("random", (long)oracle.TripleCount)], stats.FactsBySource);
    }

    [Fact]
    public void Create_refuses_an_existing_file_and_open_a_missing_one()
    {
        using var folder = new TempFolder();
        string path = folder.Write("there.db", "x");
        var e1 = Assert.Throws<ArgumentException>(() => KnowledgeStore.Create(path));
        Assert.Contains("there.db already exists", e1.Message);
        var e2 = Assert.Throws<FileNotFoundException>(() => KnowledgeStore.Open(folder.File("missing.db")));
        Assert.Contains("missing.db", e2.Message);
    }

    [Fact]
    public void Another_schema_version_is_refused_naming_both_versions()
    {
        using var folder = new TempFolder();
        string path = folder.File("old.db");
        KnowledgeStore.Create(path).Dispose();
        using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA user_version = 7";
            command.ExecuteNonQuery();
        }
        var e = Assert.Throws<InvalidDataException>(() => KnowledgeStore.Open(path));
        Assert.Contains("old.db", e.Message);
        Assert.Contains("version 7", e.Message);
        Assert.Contains("version 1", e.Message);
    }

    [Fact]
    public void A_file_that_is_not_a_lathe_graph_is_refused()
    {
        using var folder = new TempFolder();
        string text = folder.Write("notes.db", new string('x', 5000));
        Assert.Contains("notes.db: not a Lathe graph", Assert.Throws<InvalidDataException>(() => KnowledgeStore.Open(text)).Message);
        string other = folder.File("other.db");
        using (var connection = new SqliteConnection($"Data Source={other};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "CREATE TABLE t(x)";
            command.ExecuteNonQuery();
        }
        Assert.Contains("other.db: not a Lathe graph", Assert.Throws<InvalidDataException>(() => KnowledgeStore.Open(other)).Message);
    }

    sealed class RelationComparer : IEqualityComparer<KgRelation>
    {
        public bool Equals(KgRelation? a, KgRelation? b) =>
            a is not null && b is not null && (a.Id, a.Label, a.ObjectKind, a.Functional, a.Statement) == (b.Id, b.Label, b.ObjectKind, b.Functional, b.Statement)
            && a.Questions.SequenceEqual(b.Questions);
        public int GetHashCode(KgRelation r) => r.Id.GetHashCode();
    }
}
