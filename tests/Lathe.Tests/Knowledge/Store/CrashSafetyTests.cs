using Lathe.Knowledge.Store;
using Microsoft.Data.Sqlite;

namespace Lathe.Tests.Knowledge.Store;

/// <summary>The files a killed import leaves behind: a graph file already holding some of the new pages and a hot
/// rollback journal. Opening them must give back the graph as it was before the import (the store's journal mode is
/// DELETE with full sync, so the journal is on disk before any page of the graph file changes).</summary>
public class CrashSafetyTests
{
    [Fact]
    public void An_interrupted_import_is_rolled_back_when_the_graph_is_next_opened()
    {
        var (_, jsonl) = StoreFixtures.RandomGraph(41);
        using var folder = new TempFolder();
        string db = folder.File("g.db");
        List<string> before;
        using (var store = KnowledgeStore.Create(db))
        {
            store.Import(folder.Write("g.jsonl", jsonl));
            before = StoreFixtures.Dump(store);
            Assert.Equal("delete", Pragma(store, "journal_mode"));
            Assert.Equal(2L, Pragma(store, "synchronous"));   // FULL
        }
        byte[] original = File.ReadAllBytes(db);
        using (var connection = new SqliteConnection($"Data Source={db};Pooling=False"))
        {
            connection.Open();
            Execute(connection, "PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL; PRAGMA cache_size = 4;");   // a tiny cache spills pages mid-transaction
            using var transaction = connection.BeginTransaction();
            using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = "INSERT INTO triples VALUES ($s, 'motto', 1, $v, 'crash')";
            insert.Parameters.Add(new SqliteParameter("$s", "country/e001"));
            insert.Parameters.Add(new SqliteParameter("$v", ""));
            for (int i = 0; i < 3000; i++) { insert.Parameters[1].Value = $"half-written {i}"; insert.ExecuteNonQuery(); }
            // The process dies here: copy what is on disk now, as the killed process would leave it.
            File.Copy(db, folder.File("crash.db"));
            Assert.True(File.Exists(db + "-journal"), "an open write transaction keeps a rollback journal");
            File.Copy(db + "-journal", folder.File("crash.db-journal"));
        }
        Assert.NotEqual(original, File.ReadAllBytes(folder.File("crash.db")));   // the file really holds half an import
        // A reader (lathe kg query opens read-only) first: it too sees the graph as before.
        using (var readOnly = KnowledgeStore.Open(folder.File("crash.db"), readOnly: true))
            Assert.Equal(before, StoreFixtures.Dump(readOnly));
        using (var reopened = KnowledgeStore.Open(folder.File("crash.db")))
            Assert.Equal(before, StoreFixtures.Dump(reopened));
        Assert.False(File.Exists(folder.File("crash.db-journal")));
    }

    static object Pragma(KnowledgeStore store, string name)
    {
        using var command = store.Connection.CreateCommand();
        command.CommandText = "PRAGMA " + name;
        return command.ExecuteScalar()!;
    }

    static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
