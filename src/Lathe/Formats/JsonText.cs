using System.Text;
using System.Text.Json;

namespace Lathe.Formats;

/// <summary>Writes JSON values with chosen separators: "," and ":" (compact, the spelling of constrained outputs'
/// fixed values) or ", " and ": " (Python's json.dumps, which chat templates' tojson produces). Strings are escaped
/// only where JSON requires it (quote, backslash, control characters); other characters are written as themselves;
/// numbers as given.</summary>
internal static class JsonText
{
    public static void Write(JsonElement value, StringBuilder s, string itemSeparator, string keySeparator)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                s.Append('{');
                bool first = true;
                foreach (var p in value.EnumerateObject())
                {
                    if (!first) s.Append(itemSeparator);
                    first = false;
                    WriteString(p.Name, s);
                    s.Append(keySeparator);
                    Write(p.Value, s, itemSeparator, keySeparator);
                }
                s.Append('}');
                break;
            case JsonValueKind.Array:
                s.Append('[');
                int i = 0;
                foreach (var item in value.EnumerateArray())
                {
                    if (i++ > 0) s.Append(itemSeparator);
                    Write(item, s, itemSeparator, keySeparator);
                }
                s.Append(']');
                break;
            case JsonValueKind.String: WriteString(value.GetString()!, s); break;
            default: s.Append(value.GetRawText()); break;   // number as written, true, false, null
        }
    }

    public static void WriteString(string value, StringBuilder s)
    {
        s.Append('"');
        foreach (char c in value)
        {
            switch (c)
            {
                case '"': s.Append("\\\""); break;
                case '\\': s.Append("\\\\"); break;
                case '\n': s.Append("\\n"); break;
                case '\r': s.Append("\\r"); break;
                case '\t': s.Append("\\t"); break;
                case '\b': s.Append("\\b"); break;
                case '\f': s.Append("\\f"); break;
                default:
                    if (c < 0x20) s.Append("\\u").Append(((int)c).ToString("x4"));
                    else s.Append(c);
                    break;
            }
        }
        s.Append('"');
    }
}
