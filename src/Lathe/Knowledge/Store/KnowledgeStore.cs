using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Lathe.Knowledge.Store;

/// <summary>The knowledge graph on disk: an SQLite file (schema in <see cref="StoreSchema"/>) read through
/// <see cref="IKnowledgeGraph"/>, filled by <see cref="Import(string, string?)"/> (JSONL, N-Triples, CSV; one
/// transaction per call) and written out by <see cref="ExportNTriples"/>. Every read runs a prepared command kept for
/// the store's lifetime. One store may be shared between threads: calls are serialised by a lock.</summary>
public sealed class KnowledgeStore : IKnowledgeGraph, IDisposable
{
    readonly SqliteConnection _connection;
    readonly object _gate = new();
    readonly SqliteCommand[] _match = new SqliteCommand[8];
    readonly SqliteCommand _findEntity, _entitiesNamed;
    Dictionary<string, KgRelation> _relations = [];

    /// <summary>The graph file.</summary>
    public string Path { get; }

    KnowledgeStore(string path, SqliteConnection connection)
    {
        Path = path;
        _connection = connection;
        _findEntity = Prepare(FindEntitySql, "$id");
        _entitiesNamed = Prepare("SELECT DISTINCT entity FROM names WHERE key = $key ORDER BY entity", "$key");
        LoadRelations();
    }

    /// <summary>Makes a new, empty graph file; refuses a path that exists.</summary>
    public static KnowledgeStore Create(string path)
    {
        if (File.Exists(path) || Directory.Exists(path)) throw new ArgumentException($"{path} already exists; a new graph needs a new file");
        string? dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        var connection = Connect(path, SqliteOpenMode.ReadWriteCreate);
        try
        {
            StoreSchema.Configure(connection);
            StoreSchema.Create(connection);
            return new KnowledgeStore(path, connection);
        }
        catch { connection.Dispose(); throw; }
    }

    /// <summary>Opens an existing graph file; a missing file, a file that is not a Lathe graph or one of another
    /// schema version is a one-line error naming it.</summary>
    public static KnowledgeStore Open(string path, bool readOnly = false)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such graph file (build one with `lathe kg import`)");
        if (readOnly && File.Exists(path + "-journal")) RollBackInterruptedImport(path);
        var connection = Connect(path, readOnly ? SqliteOpenMode.ReadOnly : SqliteOpenMode.ReadWrite);
        try
        {
            StoreSchema.Check(connection, path);
            if (readOnly) StoreSchema.HoldReadLock(connection);
            else StoreSchema.Configure(connection);
            return new KnowledgeStore(path, connection);
        }
        catch { connection.Dispose(); throw; }
    }

    // A killed import leaves a hot journal, which only a connection that may write can roll back; a read-only open
    // would fail on it. So a reader first opens the file for writing once, which makes SQLite undo the half import.
    static void RollBackInterruptedImport(string path)
    {
        try
        {
            using var connection = Connect(path, SqliteOpenMode.ReadWrite);
            StoreSchema.Check(connection, path);
        }
        catch (SqliteException e) when (e.SqliteErrorCode is 8 or 14)   // SQLITE_READONLY, SQLITE_CANTOPEN
        {
            throw new InvalidDataException($"{path}: an interrupted import left {path}-journal; open the graph once with write access to roll it back");
        }
    }

    static SqliteConnection Connect(string path, SqliteOpenMode mode)
    {
        // No pooling: a disposed store must let go of its file (tests delete it, the CLI renames a new one into place).
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = mode, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    public KgEntity? FindEntity(string id)
    {
        lock (_gate) return ReadEntity(_findEntity, id);
    }

    /// <summary>An entity's name, type and aliases in order: the query <see cref="ReadEntity"/> reads.</summary>
    internal const string FindEntitySql =
        "SELECT e.name, e.type, n.name FROM entities e LEFT JOIN names n ON n.entity = e.id AND n.ord > 0 WHERE e.id = $id ORDER BY n.ord";

    /// <summary>Runs the find-entity command (rows: name, type, alias — one row per alias in order, or one row with a
    /// null alias) for <paramref name="id"/>: the entity, or null. The store and an import in progress share it.</summary>
    internal static KgEntity? ReadEntity(SqliteCommand findEntity, string id)
    {
        findEntity.Parameters[0].Value = id;
        using var reader = findEntity.ExecuteReader();
        if (!reader.Read()) return null;
        string name = reader.GetString(0), type = reader.GetString(1);
        var aliases = new List<string>();
        do { if (!reader.IsDBNull(2)) aliases.Add(reader.GetString(2)); } while (reader.Read());
        return new KgEntity(id, name, aliases, type);
    }

    public IReadOnlyList<KgEntity> EntitiesNamed(string name)
    {
        var ids = new List<string>();
        lock (_gate)
        {
            _entitiesNamed.Parameters[0].Value = NameKey.Of(name);
            using var reader = _entitiesNamed.ExecuteReader();
            while (reader.Read()) ids.Add(reader.GetString(0));
        }
        ids.Sort(StringComparer.Ordinal);
        return ids.Select(id => FindEntity(id)!).ToList();
    }

    /// <summary>Every entity by id (read into a list at the call, so the caller may query the store while iterating).</summary>
    public IEnumerable<KgEntity> Entities()
    {
        var entities = new List<KgEntity>();
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = """
                SELECT e.id, e.name, e.type, n.name FROM entities e LEFT JOIN names n ON n.entity = e.id AND n.ord > 0
                ORDER BY e.id, n.ord
                """;
            using var reader = command.ExecuteReader();
            string? id = null, name = null, type = null;
            List<string>? aliases = null;
            while (reader.Read())
            {
                string rowId = reader.GetString(0);
                if (rowId != id)
                {
                    if (id is not null) entities.Add(new KgEntity(id, name!, aliases!, type!));
                    (id, name, type, aliases) = (rowId, reader.GetString(1), reader.GetString(2), []);
                }
                if (!reader.IsDBNull(3)) aliases!.Add(reader.GetString(3));
            }
            if (id is not null) entities.Add(new KgEntity(id, name!, aliases!, type!));
        }
        // SQLite orders text by UTF-8 bytes, the interface by UTF-16 code units; they differ only past U+FFFF.
        if (!IsSorted(entities, (a, b) => string.CompareOrdinal(a.Id, b.Id))) entities.Sort((a, b) => string.CompareOrdinal(a.Id, b.Id));
        return entities;
    }

    public KgRelation? FindRelation(string id)
    {
        lock (_gate) return _relations.GetValueOrDefault(id);
    }

    public IReadOnlyList<KgRelation> Relations()
    {
        lock (_gate) return _relations.Values.OrderBy(r => r.Id, StringComparer.Ordinal).ToList();
    }

    public IReadOnlyList<Triple> Match(string? subject, string? relation, Term? obj)
    {
        int shape = (subject is null ? 0 : 1) | (relation is null ? 0 : 2) | (obj is null ? 0 : 4);
        var found = new List<Triple>();
        lock (_gate)
        {
            var command = _match[shape] ??= PrepareMatch(shape);
            int p = 0;
            if (subject is not null) command.Parameters[p++].Value = subject;
            if (relation is not null) command.Parameters[p++].Value = relation;
            if (obj is { } o) { command.Parameters[p++].Value = (int)o.Kind; command.Parameters[p].Value = o.Value; }
            using var reader = command.ExecuteReader();
            while (reader.Read())
                found.Add(new Triple(reader.GetString(0), reader.GetString(1), new Term((TermKind)reader.GetInt32(2), reader.GetString(3)), reader.GetString(4)));
        }
        if (!IsSorted(found, CompareTriples)) found.Sort(CompareTriples);
        return found;
    }

    /// <summary>The interface's triple order: subject, relation, object kind, object value (ordinal).</summary>
    internal static int CompareTriples(Triple a, Triple b)
    {
        int c = string.CompareOrdinal(a.Subject, b.Subject);
        if (c == 0) c = string.CompareOrdinal(a.Relation, b.Relation);
        if (c == 0) c = a.Object.Kind.CompareTo(b.Object.Kind);
        if (c == 0) c = string.CompareOrdinal(a.Object.Value, b.Object.Value);
        return c;
    }

    static bool IsSorted<T>(List<T> items, Comparison<T> compare)
    {
        for (int i = 1; i < items.Count; i++) if (compare(items[i - 1], items[i]) > 0) return false;
        return true;
    }

    SqliteCommand PrepareMatch(int shape)
    {
        var where = new List<string>();
        var names = new List<string>();
        if ((shape & 1) != 0) { where.Add("subject = $s"); names.Add("$s"); }
        if ((shape & 2) != 0) { where.Add("relation = $r"); names.Add("$r"); }
        if ((shape & 4) != 0) { where.Add("kind = $k AND value = $v"); names.Add("$k"); names.Add("$v"); }
        string sql = "SELECT subject, relation, kind, value, source FROM triples"
                     + (where.Count == 0 ? "" : " WHERE " + string.Join(" AND ", where))
                     + " ORDER BY subject, relation, kind, value";
        return Prepare(sql, [.. names]);
    }

    /// <summary>A command compiled once and run many times with new parameter values.</summary>
    internal SqliteCommand Prepare(string sql, params string[] parameters)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        foreach (string name in parameters) command.Parameters.Add(new SqliteParameter(name, null));
        command.Prepare();
        return command;
    }

    /// <summary>Imports one file (JSONL, N-Triples or CSV by its extension, each optionally <c>.gz</c>) in one
    /// transaction: on any error nothing of the file is kept, and the error names the file and line.
    /// <paramref name="source"/> is the source of facts that name none (default: the file's name).</summary>
    public ImportCounts Import(string path, string? source = null)
    {
        var format = GraphFileFormat.Of(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file");
        string defaultSource = source ?? System.IO.Path.GetFileName(path);
        using var stream = Lathe.Data.CorpusFiles.Open(path);   // through gzip when the name ends in .gz
        return Import(stream, format, path, defaultSource);   // errors name the path as the caller gave it
    }

    /// <summary>Imports a stream of the given format; <paramref name="fileName"/> is what errors call it.</summary>
    public ImportCounts Import(Stream stream, GraphFormat format, string fileName, string defaultSource)
    {
        lock (_gate)
        {
            using var session = new ImportSession(_connection, fileName, defaultSource);
            try
            {
                switch (format)
                {
                    case GraphFormat.Jsonl: JsonlGraphReader.Read(stream, session); break;
                    case GraphFormat.NTriples: NTriplesReader.Read(stream, session); break;
                    case GraphFormat.Csv: CsvGraphReader.Read(stream, session); break;
                    default: throw new ArgumentException($"unknown graph format {format}");
                }
                var counts = session.Commit();
                return counts;
            }
            finally { LoadRelations(); }   // after a rollback too: the cache must show what the file holds
        }
    }

    /// <summary>Writes the graph as N-Triples (atomically; see <see cref="NTriplesWriter"/> for the mapping).</summary>
    public void ExportNTriples(string path)
    {
        lock (_gate) NTriplesWriter.Write(this, path);
    }

    /// <summary>Counts for <c>lathe kg stats</c>: entities by type, facts by relation and by source, totals.</summary>
    public GraphStats Stats()
    {
        lock (_gate) return GraphStats.Read(_connection);
    }

    void LoadRelations()
    {
        var relations = new Dictionary<string, KgRelation>(StringComparer.Ordinal);
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT id, label, object_kind, functional, statement, questions FROM relations";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var questions = JsonSerializer.Deserialize<List<string>>(reader.GetString(5)) ?? [];
            relations[reader.GetString(0)] = new KgRelation(reader.GetString(0), reader.GetString(1), (TermKind)reader.GetInt32(2),
                reader.GetInt32(3) != 0, reader.GetString(4), questions);
        }
        _relations = relations;
    }

    internal SqliteConnection Connection => _connection;

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var command in _match) command?.Dispose();
            _findEntity.Dispose();
            _entitiesNamed.Dispose();
            _connection.Dispose();
        }
    }
}
