using System.Text;
using System.Text.Json;

namespace Lathe.Inference.Constraints;

/// <summary>The one spelling a constrained output uses for a fixed JSON value (an enum or const value, a property
/// name): compact, strings escaped only where JSON requires it (quote, backslash, control characters), other
/// characters written as themselves in UTF-8, numbers as the schema wrote them.</summary>
internal static class JsonLiteral
{
    public static byte[] Bytes(JsonElement value)
    {
        var s = new StringBuilder();
        Write(value, s);
        return Encoding.UTF8.GetBytes(s.ToString());
    }

    public static byte[] String(string value)
    {
        var s = new StringBuilder();
        WriteString(value, s);
        return Encoding.UTF8.GetBytes(s.ToString());
    }

    static void Write(JsonElement value, StringBuilder s)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                s.Append('{');
                bool first = true;
                foreach (var p in value.EnumerateObject())
                {
                    if (!first) s.Append(',');
                    first = false;
                    WriteString(p.Name, s);
                    s.Append(':');
                    Write(p.Value, s);
                }
                s.Append('}');
                break;
            case JsonValueKind.Array:
                s.Append('[');
                int i = 0;
                foreach (var item in value.EnumerateArray())
                {
                    if (i++ > 0) s.Append(',');
                    Write(item, s);
                }
                s.Append(']');
                break;
            case JsonValueKind.String: WriteString(value.GetString()!, s); break;
            default: s.Append(value.GetRawText()); break;   // number as written, true, false, null
        }
    }

    static void WriteString(string value, StringBuilder s)
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
