using System.Globalization;
using System.Text;

namespace Lathe.Formats.Jinja;

/// <summary>Python's json.dumps, as Hugging Face's tojson filter calls it (ensure_ascii, indent, separators,
/// sort_keys): default separators ", " and ": " (or "," and ": " with an indent), floats as Python's repr, NaN and
/// Infinity spelt as Python does, tuples as arrays, non-string keys converted as json.dumps converts them.</summary>
internal static class PyJson
{
    public sealed record Options(bool EnsureAscii, string? Indent, string ItemSeparator, string KeySeparator, bool SortKeys);

    public static Options MakeOptions(object? ensureAscii, object? indent, object? separators, object? sortKeys)
    {
        string? indentText = indent switch
        {
            null => null,
            long n => new string(' ', (int)Math.Max(0, n)),
            bool b => b ? " " : "",
            string s => s,
            _ => throw new JinjaRuntimeError($"tojson: indent must be an int or a string, not '{PyOps.TypeName(indent)}'"),
        };
        string item = indentText is null ? ", " : ",", key = ": ";
        if (separators is not null)
        {
            var seps = PyOps.AsList(separators);
            if (seps is null || seps.Count != 2 || seps[0] is not string a || seps[1] is not string b)
                throw new JinjaRuntimeError("tojson: separators must be a pair of strings");
            item = a;
            key = b;
        }
        return new(PyOps.Truthy(ensureAscii), indentText, item, key, PyOps.Truthy(sortKeys));
    }

    public static string Dumps(object? value, Options options)
    {
        var sb = new StringBuilder();
        Write(sb, value, options, 0);
        return sb.ToString();
    }

    static void NewLine(StringBuilder sb, Options o, int level)
    {
        sb.Append('\n');
        for (int i = 0; i < level; i++) sb.Append(o.Indent);
    }

    static void Write(StringBuilder sb, object? v, Options o, int level)
    {
        switch (v)
        {
            case null: sb.Append("null"); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d: sb.Append(Float(d)); break;
            case string s: WriteString(sb, s, o.EnsureAscii); break;
            case Markup m: WriteString(sb, m.Text, o.EnsureAscii); break;
            case List<object?> or object?[]:
            {
                var items = PyOps.AsList(v)!;
                if (items.Count == 0) { sb.Append("[]"); break; }
                sb.Append('[');
                for (int i = 0; i < items.Count; i++)
                {
                    if (i > 0) sb.Append(o.ItemSeparator);
                    if (o.Indent is not null) NewLine(sb, o, level + 1);
                    Write(sb, items[i], o, level + 1);
                }
                if (o.Indent is not null) NewLine(sb, o, level);
                sb.Append(']');
                break;
            }
            case PyDict d:
            {
                if (d.Count == 0) { sb.Append("{}"); break; }
                var pairs = new List<(string Key, object? Value)>();
                foreach (var kv in d.Items()) pairs.Add((KeyString(kv.Key), kv.Value));
                if (o.SortKeys) pairs.Sort((x, y) => string.CompareOrdinal(x.Key, y.Key));
                sb.Append('{');
                for (int i = 0; i < pairs.Count; i++)
                {
                    if (i > 0) sb.Append(o.ItemSeparator);
                    if (o.Indent is not null) NewLine(sb, o, level + 1);
                    WriteString(sb, pairs[i].Key, o.EnsureAscii);
                    sb.Append(o.KeySeparator);
                    Write(sb, pairs[i].Value, o, level + 1);
                }
                if (o.Indent is not null) NewLine(sb, o, level);
                sb.Append('}');
                break;
            }
            default: throw new JinjaRuntimeError($"Object of type {PyOps.TypeName(v)} is not JSON serializable");
        }
    }

    static string Float(double d) =>
        double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : PyOps.FloatRepr(d);

    static string KeyString(object key) => key switch
    {
        string s => s,
        bool b => b ? "true" : "false",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => Float(d),
        _ => throw new JinjaRuntimeError($"keys must be str, int, float, bool or None, not {PyOps.TypeName(key)}"),
    };

    static void WriteString(StringBuilder sb, string s, bool ensureAscii)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20 || (ensureAscii && c > 0x7e)) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}
