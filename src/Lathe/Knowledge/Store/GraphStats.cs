using Microsoft.Data.Sqlite;

namespace Lathe.Knowledge.Store;

/// <summary>What a graph holds, for <c>lathe kg stats</c>: totals, entities by type, facts by relation and by source
/// (each list largest first, ties by name).</summary>
public sealed record GraphStats(
    long Entities, long Names, long Relations, long Facts,
    IReadOnlyList<(string Type, long Count)> EntitiesByType,
    IReadOnlyList<(string Relation, long Count)> FactsByRelation,
    IReadOnlyList<(string Source, long Count)> FactsBySource)
{
    internal static GraphStats Read(SqliteConnection connection)
    {
        long Count(string sql)
        {
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            return (long)command.ExecuteScalar()!;
        }
        List<(string, long)> Groups(string sql)
        {
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            using var reader = command.ExecuteReader();
            var rows = new List<(string, long)>();
            while (reader.Read()) rows.Add((reader.GetString(0), reader.GetInt64(1)));
            return rows.OrderByDescending(r => r.Item2).ThenBy(r => r.Item1, StringComparer.Ordinal).ToList();
        }
        return new GraphStats(
            Count("SELECT count(*) FROM entities"), Count("SELECT count(*) FROM names"),
            Count("SELECT count(*) FROM relations"), Count("SELECT count(*) FROM triples"),
            Groups("SELECT type, count(*) FROM entities GROUP BY type"),
            // Relations without facts are listed too (with 0): a declared relation nobody uses is worth seeing.
            Groups("SELECT r.id, (SELECT count(*) FROM triples t WHERE t.relation = r.id) FROM relations r"),
            Groups("SELECT source, count(*) FROM triples GROUP BY source"));
    }
}
