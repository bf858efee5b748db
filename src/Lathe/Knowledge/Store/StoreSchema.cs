using Microsoft.Data.Sqlite;

namespace Lathe.Knowledge.Store;

/// <summary>The graph file's tables and its version stamp. A file is a Lathe graph when its <c>meta</c> table says
/// <c>format = lathe-kg</c>; its layout is <c>PRAGMA user_version</c> (<see cref="Version"/>), which a change of the
/// tables below must bump.</summary>
/// <remarks>Triples keep their object as (kind, value text), so one UNIQUE constraint over (subject, relation, kind,
/// value) both refuses duplicate facts and serves every pattern that binds the subject. Two more composite indexes
/// cover the other bound/unbound combinations of a single pattern (S, R, O each bound or not — 8 shapes):
/// <code>
/// S R O   bound          index
/// - - -   (none)         table scan
/// S - -   S              triples_spo (UNIQUE)
/// S R -   S,R            triples_spo
/// S R O   S,R,O          triples_spo
/// - R -   R              triples_pos
/// - R O   R,O            triples_pos
/// - - O   O              triples_osp
/// S - O   O,S            triples_osp
/// </code></remarks>
internal static class StoreSchema
{
    public const int Version = 1;
    public const string Format = "lathe-kg";

    const string Tables = """
        CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE entities(id TEXT PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL) WITHOUT ROWID;
        -- One row per name of an entity: ord 0 is its name, 1.. its aliases in order; key is NameKey.Of(name).
        CREATE TABLE names(entity TEXT NOT NULL, ord INTEGER NOT NULL, name TEXT NOT NULL, key TEXT NOT NULL,
                           PRIMARY KEY(entity, ord)) WITHOUT ROWID;
        CREATE INDEX names_key ON names(key, entity);
        CREATE TABLE relations(id TEXT PRIMARY KEY, label TEXT NOT NULL, object_kind INTEGER NOT NULL,
                               functional INTEGER NOT NULL, statement TEXT NOT NULL, questions TEXT NOT NULL) WITHOUT ROWID;
        -- kind is (int)TermKind; value the object's text (an entity id, a string, an invariant number, an ISO date).
        CREATE TABLE triples(subject TEXT NOT NULL, relation TEXT NOT NULL, kind INTEGER NOT NULL, value TEXT NOT NULL,
                             source TEXT NOT NULL, CONSTRAINT triples_spo UNIQUE(subject, relation, kind, value));
        CREATE INDEX triples_pos ON triples(relation, kind, value, subject);
        CREATE INDEX triples_osp ON triples(kind, value, subject, relation);
        """;

    /// <summary>Creates the tables in an empty database and stamps it.</summary>
    public static void Create(SqliteConnection connection)
    {
        using var transaction = connection.BeginTransaction();
        Execute(connection, Tables);
        Execute(connection, $"INSERT INTO meta(key, value) VALUES ('format', '{Format}'); PRAGMA user_version = {Version};");
        transaction.Commit();
    }

    /// <summary>Refuses a file that is not a Lathe graph of this version, naming the file and both versions.</summary>
    public static void Check(SqliteConnection connection, string path)
    {
        string? format;
        long version;
        try
        {
            using var hasMeta = connection.CreateCommand();
            hasMeta.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'";
            format = (long)hasMeta.ExecuteScalar()! == 0 ? null : Scalar(connection, "SELECT value FROM meta WHERE key = 'format'") as string;
            version = (long)Scalar(connection, "PRAGMA user_version")!;
        }
        catch (SqliteException e) when (e.SqliteErrorCode == 26)   // SQLITE_NOTADB
        {
            throw new InvalidDataException($"{path}: not a Lathe graph (not an SQLite database)");
        }
        if (format != Format) throw new InvalidDataException($"{path}: not a Lathe graph (no meta format '{Format}')");
        if (version != Version)
            throw new InvalidDataException($"{path}: graph schema version {version}, but this Lathe reads version {Version}; rebuild it with `lathe kg import`");
    }

    /// <summary>Rollback journal with full sync: a commit is on disk when it returns, and an import killed halfway
    /// leaves a hot journal that SQLite rolls back on the next open, so the file is never half-written.</summary>
    public static void Configure(SqliteConnection connection) =>
        Execute(connection, "PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF; PRAGMA cache_size = -65536;");

    /// <summary>A reader keeps its shared lock from the first read on (SQLite's exclusive locking mode, which for a
    /// read-only connection holds only the shared lock): otherwise every query of an autocommit reader takes and drops
    /// the file lock and looks for a hot journal — three system calls that cost more than an indexed lookup. Nothing
    /// writes a graph in place while it is read: `kg import` builds a copy and renames it over the file.</summary>
    public static void HoldReadLock(SqliteConnection connection) => Execute(connection, "PRAGMA locking_mode = EXCLUSIVE;");

    static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }
}
