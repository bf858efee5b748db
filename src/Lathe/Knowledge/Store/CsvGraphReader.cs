using System.Text;

namespace Lathe.Knowledge.Store;

/// <summary>Reads facts from CSV (RFC 4180: comma-separated, fields in double quotes may hold commas, line breaks and
/// doubled quotes). The header names the columns: <c>subject</c>, <c>relation</c> and <c>object</c>, and optionally
/// <c>object_type</c> (entity|string|number|date; it must agree with the relation) and <c>source</c> (empty: the
/// import's source). CSV declares no relations or entities: they must be in the graph or this import.</summary>
internal static class CsvGraphReader
{
    static readonly string[] Columns = ["subject", "relation", "object", "object_type", "source"];

    public static void Read(Stream stream, ImportSession session)
    {
        using var text = new StreamReader(stream, new UTF8Encoding(false, throwOnInvalidBytes: true));
        var records = new CsvRecords(text, session);
        var fields = new List<string>();
        if (!records.Next(fields, out long headerLine)) throw session.Error(1, "empty CSV file (expected the header subject,relation,object[,object_type][,source])");
        var index = new int[Columns.Length];
        Array.Fill(index, -1);
        for (int i = 0; i < fields.Count; i++)
        {
            string name = fields[i].Trim();
            if (i == 0) name = name.TrimStart('\uFEFF');
            int column = Array.IndexOf(Columns, name);
            if (column < 0) throw session.Error(headerLine, $"unknown column '{name}' (known: {string.Join(", ", Columns)})");
            if (index[column] >= 0) throw session.Error(headerLine, $"column '{name}' appears twice");
            index[column] = i;
        }
        for (int c = 0; c < 3; c++)
            if (index[c] < 0) throw session.Error(headerLine, $"missing column '{Columns[c]}'");
        int width = fields.Count;

        while (records.Next(fields, out long line))
        {
            if (fields.Count == 1 && fields[0].Length == 0) continue;   // a blank line
            if (fields.Count != width) throw session.Error(line, $"{fields.Count} fields, but the header has {width}");
            string subject = fields[index[0]], relation = fields[index[1]], obj = fields[index[2]];
            TermKind? declared = null;
            if (index[3] >= 0 && fields[index[3]].Length > 0)
                declared = ImportSession.ParseKind(fields[index[3]])
                           ?? throw session.Error(line, $"object_type \"{fields[index[3]]}\" is not one of entity, string, number, date");
            string? source = index[4] >= 0 && fields[index[4]].Length > 0 ? fields[index[4]] : null;
            session.AddFact(subject, relation, (rel, at) =>
            {
                if (declared is { } kind && kind != rel.ObjectKind)
                    throw session.Error(at, $"relation '{rel.Id}' takes {ImportSession.Name(rel.ObjectKind)} objects, not {ImportSession.Name(kind)}");
                return session.Literal(rel.ObjectKind, obj, rel.Id, at);
            }, source, line);
        }
    }

    /// <summary>Splits RFC 4180 records, tracking the line each starts on.</summary>
    sealed class CsvRecords(TextReader reader, ImportSession session)
    {
        long _line = 1;
        readonly StringBuilder _field = new();

        public bool Next(List<string> fields, out long start)
        {
            fields.Clear();
            start = _line;
            int c = Read();
            if (c < 0) return false;
            while (true)
            {
                _field.Clear();
                if (c == '"')
                {
                    while (true)
                    {
                        c = Read();
                        if (c < 0) throw session.Error(start, "a quoted field is not closed");
                        if (c == '"')
                        {
                            c = Read();
                            if (c == '"') { _field.Append('"'); continue; }
                            break;
                        }
                        if (c == '\n') _line++;
                        _field.Append((char)c);
                    }
                    if (c >= 0 && c is not (',' or '\n' or '\r')) throw session.Error(_line, $"text after a closing quote ('{(char)c}')");
                }
                else
                {
                    while (c >= 0 && c is not (',' or '\n' or '\r'))
                    {
                        if (c == '"') throw session.Error(_line, "a quote inside an unquoted field (quote the whole field and double the quote)");
                        _field.Append((char)c);
                        c = Read();
                    }
                }
                fields.Add(_field.ToString());
                if (c == ',') { c = Read(); continue; }
                if (c == '\r' && reader.Peek() == '\n') Read();
                if (c is '\n' or '\r') _line++;
                return true;
            }
        }

        int Read()
        {
            try { return reader.Read(); }
            catch (DecoderFallbackException) { throw session.Error(_line, "not valid UTF-8"); }
            catch (InvalidDataException e) { throw session.Error(_line, $"cannot decompress: {e.Message}"); }
        }
    }
}
