using System.Text;

namespace Lathe.Evaluation.Levels;

/// <summary>Escapes text for HTML and SVG (XML) content and attribute values: only &amp; &lt; &gt; " and ' are
/// replaced, so other characters (±, ·, ↓) stay readable in the page's source, which is UTF-8.</summary>
internal static class HtmlText
{
    public static string Escape(string s)
    {
        if (s.AsSpan().IndexOfAny("&<>\"'") < 0) return s;
        var b = new StringBuilder(s.Length + 16);
        foreach (char c in s)
            b.Append(c switch
            {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                '\'' => "&#39;",
                _ => c.ToString(),
            });
        return b.ToString();
    }
}
