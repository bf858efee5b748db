using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;

namespace Lathe.Knowledge.Store;

/// <summary>One import: a transaction and its prepared writes, with the checks every format shares. Facts whose
/// relation is not known yet wait until the end (a file may declare relations after using them); facts naming an
/// entity not yet seen are checked again at the end. Any error throws <c>FILE:LINE: …</c> and, through
/// <see cref="Dispose"/>, rolls the whole import back.</summary>
internal sealed partial class ImportSession : IDisposable
{
    readonly SqliteConnection _connection;
    readonly SqliteTransaction _transaction;
    readonly SqliteCommand _insertFact, _upsertEntity, _deleteNames, _insertName, _upsertRelation, _entityExists, _relationHasFacts, _findEntity;
    readonly Dictionary<string, KgRelation> _relations;
    readonly HashSet<string> _knownEntities = new(StringComparer.Ordinal);
    readonly Dictionary<string, long> _missingEntities = new(StringComparer.Ordinal);   // id → first line naming it
    readonly List<PendingFact> _pending = [];
    int _entities, _relationCount, _facts, _duplicates;
    bool _committed;

    public string FileName { get; }
    public string DefaultSource { get; }

    /// <summary>Resolves a fact's object once its relation is known (the relation says what kind it must be).</summary>
    public delegate Term ObjectResolver(KgRelation relation, long line);

    readonly record struct PendingFact(string Subject, string Relation, ObjectResolver Resolve, string Source, long Line);

    public ImportSession(SqliteConnection connection, string fileName, string defaultSource)
    {
        _connection = connection;
        FileName = fileName;
        DefaultSource = defaultSource;
        _transaction = connection.BeginTransaction();
        _insertFact = Prepare("INSERT OR IGNORE INTO triples(subject, relation, kind, value, source) VALUES ($s, $r, $k, $v, $src)", "$s", "$r", "$k", "$v", "$src");
        _upsertEntity = Prepare("INSERT INTO entities(id, name, type) VALUES ($id, $name, $type) ON CONFLICT(id) DO UPDATE SET name = excluded.name, type = excluded.type", "$id", "$name", "$type");
        _deleteNames = Prepare("DELETE FROM names WHERE entity = $id", "$id");
        _insertName = Prepare("INSERT INTO names(entity, ord, name, key) VALUES ($id, $ord, $name, $key)", "$id", "$ord", "$name", "$key");
        _upsertRelation = Prepare("""
            INSERT INTO relations(id, label, object_kind, functional, statement, questions) VALUES ($id, $label, $kind, $functional, $statement, $questions)
            ON CONFLICT(id) DO UPDATE SET label = excluded.label, object_kind = excluded.object_kind, functional = excluded.functional,
                                          statement = excluded.statement, questions = excluded.questions
            """, "$id", "$label", "$kind", "$functional", "$statement", "$questions");
        _entityExists = Prepare("SELECT 1 FROM entities WHERE id = $id", "$id");
        _relationHasFacts = Prepare("SELECT 1 FROM triples WHERE relation = $r LIMIT 1", "$r");
        _findEntity = Prepare(KnowledgeStore.FindEntitySql, "$id");
        _relations = ReadRelations();
    }

    SqliteCommand Prepare(string sql, params string[] parameters)
    {
        var command = _connection.CreateCommand();
        command.Transaction = _transaction;
        command.CommandText = sql;
        foreach (string name in parameters) command.Parameters.Add(new SqliteParameter(name, null));
        command.Prepare();
        return command;
    }

    Dictionary<string, KgRelation> ReadRelations()
    {
        var relations = new Dictionary<string, KgRelation>(StringComparer.Ordinal);
        using var command = _connection.CreateCommand();
        command.Transaction = _transaction;
        command.CommandText = "SELECT id, label, object_kind, functional, statement, questions FROM relations";
        using var reader = command.ExecuteReader();
        while (reader.Read())
            relations[reader.GetString(0)] = new KgRelation(reader.GetString(0), reader.GetString(1), (TermKind)reader.GetInt32(2),
                reader.GetInt32(3) != 0, reader.GetString(4), JsonSerializer.Deserialize<List<string>>(reader.GetString(5)) ?? []);
        return relations;
    }

    /// <summary>The error for a line of this file: <c>FILE:LINE: message</c>.</summary>
    public InvalidDataException Error(long line, string message) =>
        new($"{FileName}:{line}: {message.Replace("\r", "\\r").Replace("\n", "\\n")}");   // one line, even when it quotes the data

    /// <summary>The relation as the graph will hold it so far (the database's, or this import's), or null.</summary>
    public KgRelation? Relation(string id) => _relations.GetValueOrDefault(id);

    /// <summary>The entity as the graph holds it now (inside this import), or null.</summary>
    public KgEntity? Entity(string id)
        => KnowledgeStore.ReadEntity(_findEntity, id);

    /// <summary>Adds or replaces a relation. Changing the object kind of a relation that has facts is refused (they
    /// would no longer be of its kind).</summary>
    public void PutRelation(KgRelation relation, long line)
    {
        CheckRelation(relation, line);
        if (_relations.TryGetValue(relation.Id, out var old) && old.ObjectKind != relation.ObjectKind)
        {
            _relationHasFacts.Parameters[0].Value = relation.Id;
            if (_relationHasFacts.ExecuteScalar() is not null)
                throw Error(line, $"relation '{relation.Id}' has {Name(old.ObjectKind)} objects in the graph; it cannot become {Name(relation.ObjectKind)}");
        }
        var p = _upsertRelation.Parameters;
        p[0].Value = relation.Id; p[1].Value = relation.Label; p[2].Value = (int)relation.ObjectKind; p[3].Value = relation.Functional ? 1 : 0;
        p[4].Value = relation.Statement; p[5].Value = JsonSerializer.Serialize(relation.Questions);
        _upsertRelation.ExecuteNonQuery();
        _relations[relation.Id] = relation;
        _relationCount++;
    }

    void CheckRelation(KgRelation relation, long line)
    {
        if (string.IsNullOrWhiteSpace(relation.Id)) throw Error(line, "relation id is empty");
        if (string.IsNullOrWhiteSpace(relation.Label)) throw Error(line, $"relation '{relation.Id}': label is empty");
        if (!relation.Statement.Contains("{s}", StringComparison.Ordinal) || !relation.Statement.Contains("{o}", StringComparison.Ordinal))
            throw Error(line, $"relation '{relation.Id}': statement \"{relation.Statement}\" must contain {{s}} and {{o}}");
        foreach (string question in relation.Questions)
            if (!question.Contains("{s}", StringComparison.Ordinal))
                throw Error(line, $"relation '{relation.Id}': question \"{question}\" must contain {{s}}");
    }

    /// <summary>Adds or replaces an entity with its name and aliases.</summary>
    public void PutEntity(KgEntity entity, long line)
    {
        if (string.IsNullOrWhiteSpace(entity.Id)) throw Error(line, "entity id is empty");
        if (string.IsNullOrWhiteSpace(entity.Name)) throw Error(line, $"entity '{entity.Id}': name is empty");
        if (string.IsNullOrWhiteSpace(entity.Type)) throw Error(line, $"entity '{entity.Id}': type is empty");
        var p = _upsertEntity.Parameters;
        p[0].Value = entity.Id; p[1].Value = entity.Name; p[2].Value = entity.Type;
        _upsertEntity.ExecuteNonQuery();
        _deleteNames.Parameters[0].Value = entity.Id;
        _deleteNames.ExecuteNonQuery();
        InsertName(entity.Id, 0, entity.Name);
        for (int i = 0; i < entity.Aliases.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(entity.Aliases[i])) throw Error(line, $"entity '{entity.Id}': alias {i + 1} is empty");
            InsertName(entity.Id, i + 1, entity.Aliases[i]);
        }
        _knownEntities.Add(entity.Id);
        _entities++;
    }

    void InsertName(string id, int ord, string name)
    {
        var p = _insertName.Parameters;
        p[0].Value = id; p[1].Value = ord; p[2].Value = name; p[3].Value = NameKey.Of(name);
        _insertName.ExecuteNonQuery();
    }

    /// <summary>Adds a fact whose relation may not be known yet: <paramref name="resolve"/> turns its object into a
    /// term of the relation's kind (or throws) once it is.</summary>
    public void AddFact(string subject, string relationId, ObjectResolver resolve, string? source, long line)
    {
        if (string.IsNullOrWhiteSpace(subject)) throw Error(line, "fact subject is empty");
        if (string.IsNullOrWhiteSpace(relationId)) throw Error(line, "fact relation is empty");
        if (_relations.TryGetValue(relationId, out var relation)) AddFact(subject, relation, resolve(relation, line), source, line);
        else _pending.Add(new PendingFact(subject, relationId, resolve, source ?? DefaultSource, line));
    }

    /// <summary>Adds a fact of a known relation; a duplicate is counted and skipped.</summary>
    public void AddFact(string subject, KgRelation relation, Term obj, string? source, long line)
    {
        if (string.IsNullOrWhiteSpace(subject)) throw Error(line, "fact subject is empty");
        if (obj.Kind != relation.ObjectKind)
            throw Error(line, $"relation '{relation.Id}' takes {Name(relation.ObjectKind)} objects, not {Name(obj.Kind)} \"{obj.Value}\"");
        RequireEntity(subject, line);
        if (obj.Kind == TermKind.Entity) RequireEntity(obj.Value, line);
        var p = _insertFact.Parameters;
        p[0].Value = subject; p[1].Value = relation.Id; p[2].Value = (int)obj.Kind; p[3].Value = obj.Value; p[4].Value = source ?? DefaultSource;
        if (_insertFact.ExecuteNonQuery() == 0) _duplicates++;
        else _facts++;
    }

    void RequireEntity(string id, long line)
    {
        if (_knownEntities.Contains(id) || _missingEntities.ContainsKey(id)) return;
        if (Exists(id)) _knownEntities.Add(id);
        else _missingEntities[id] = line;   // may still be declared further down the file
    }

    bool Exists(string id)
    {
        _entityExists.Parameters[0].Value = id;
        return _entityExists.ExecuteScalar() is not null;
    }

    /// <summary>Files facts that waited for their relation, checks every entity named exists, and commits.</summary>
    public ImportCounts Commit()
    {
        foreach (var fact in _pending)
        {
            if (!_relations.TryGetValue(fact.Relation, out var relation))
                throw Error(fact.Line, $"unknown relation '{fact.Relation}' (declare it with a relation line)");
            AddFact(fact.Subject, relation, fact.Resolve(relation, fact.Line), fact.Source, fact.Line);
        }
        foreach (var (id, line) in _missingEntities.OrderBy(m => m.Value))
            if (!_knownEntities.Contains(id) && !Exists(id))
                throw Error(line, $"fact names entity '{id}', which the graph does not have");
        _transaction.Commit();
        _committed = true;
        return new ImportCounts(_entities, _relationCount, _facts, _duplicates);
    }

    /// <summary>An object's text as a term of <paramref name="kind"/>: numbers canonical (so 5.10 and 5.1 are one
    /// fact), dates ISO 8601 (<c>YYYY</c>, <c>YYYY-MM</c>, <c>YYYY-MM-DD</c>, a leading minus for years BCE).</summary>
    public Term Literal(TermKind kind, string text, string relationId, long line)
    {
        switch (kind)
        {
            case TermKind.Number:
                if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double number) || !double.IsFinite(number))
                    throw Error(line, $"relation '{relationId}' takes numbers, not \"{text}\"");
                return Term.Number(number);
            case TermKind.Date:
                if (!IsoDate().IsMatch(text)) throw Error(line, $"relation '{relationId}' takes ISO dates (YYYY, YYYY-MM or YYYY-MM-DD), not \"{text}\"");
                return Term.Date(text);
            case TermKind.Entity:
                if (string.IsNullOrWhiteSpace(text)) throw Error(line, $"relation '{relationId}': the object entity id is empty");
                return Term.Entity(text);
            default:
                return Term.Text(text);
        }
    }

    [GeneratedRegex(@"^-?\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")]
    private static partial Regex IsoDate();

    /// <summary>The name of a kind in the file formats (<c>entity|string|number|date</c>).</summary>
    public static string Name(TermKind kind) => kind.ToString().ToLowerInvariant();

    /// <summary>The kind a file names, or null.</summary>
    public static TermKind? ParseKind(string name) => name switch
    {
        "entity" => TermKind.Entity, "string" => TermKind.String, "number" => TermKind.Number, "date" => TermKind.Date, _ => null,
    };

    public void Dispose()
    {
        if (!_committed) _transaction.Rollback();
        foreach (var command in new[] { _insertFact, _upsertEntity, _deleteNames, _insertName, _upsertRelation, _entityExists, _relationHasFacts, _findEntity })
            command.Dispose();
        _transaction.Dispose();
    }
}
