using System.Text;
using System.Text.Json;
using Lathe.Formats;

namespace Lathe.Inference.Constraints;

/// <summary>The one spelling a constrained output uses for a fixed JSON value (an enum or const value, a property
/// name): compact, strings escaped only where JSON requires it, other characters as themselves in UTF-8, numbers as
/// the schema wrote them.</summary>
internal static class JsonLiteral
{
    public static byte[] Bytes(JsonElement value)
    {
        var s = new StringBuilder();
        JsonText.Write(value, s, ",", ":");
        return Encoding.UTF8.GetBytes(s.ToString());
    }

    public static byte[] String(string value)
    {
        var s = new StringBuilder();
        JsonText.WriteString(value, s);
        return Encoding.UTF8.GetBytes(s.ToString());
    }
}
