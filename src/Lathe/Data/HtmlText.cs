using System.Net;
using System.Text;

namespace Lathe.Data;

/// <summary>HTML to plain text: drops comments, scripts, styles and tags, turns block-level tags into line
/// breaks, collapses HTML white space (HTML 4.01 §9.1: runs of space, tab, CR, LF render as one space) and
/// decodes character references. Not a full HTML5 parser: enough for mail bodies and scraped pages.</summary>
public static class HtmlText
{
    static readonly HashSet<string> BlockTags = new(StringComparer.OrdinalIgnoreCase)
    {
        "p", "br", "div", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6",
        "blockquote", "hr", "pre", "title", "section", "article", "header", "footer", "dd", "dt", "center",
    };

    /// <summary>True when <paramref name="text"/> carries HTML markup worth converting (a document or
    /// body element, or paragraph/line-break tags).</summary>
    public static bool LooksLikeHtml(string text)
    {
        // Jump from '<' to '<' (a vectorized search) and look at the tag name there: five case-insensitive
        // substring searches over the whole text cost ~20x more.
        var s = text.AsSpan();
        for (int i = s.IndexOf('<'); i >= 0; )
        {
            var rest = s[(i + 1)..];
            if (rest.StartsWith("html", StringComparison.OrdinalIgnoreCase) || rest.StartsWith("body", StringComparison.OrdinalIgnoreCase)
                || rest.StartsWith("/p>", StringComparison.OrdinalIgnoreCase) || rest.StartsWith("br", StringComparison.OrdinalIgnoreCase)
                || rest.StartsWith("/div>", StringComparison.OrdinalIgnoreCase))
                return true;
            int next = rest.IndexOf('<');
            if (next < 0) break;
            i += 1 + next;
        }
        return false;
    }

    /// <summary>The visible text of <paramref name="html"/>.</summary>
    public static string ToText(string html)
    {
        var output = new StringBuilder(html.Length / 2);
        int i = 0;
        bool space = true; // true after emitted white space, so runs collapse and lines do not start with a space
        while (i < html.Length)
        {
            char c = html[i];
            if (c == '<')
            {
                if (string.CompareOrdinal(html, i, "<!--", 0, 4) == 0)
                {
                    int end = html.IndexOf("-->", i + 4, StringComparison.Ordinal);
                    i = end < 0 ? html.Length : end + 3;
                    continue;
                }
                int close = html.IndexOf('>', i + 1);
                if (close < 0) { i = html.Length; break; } // a tag cut off at the end: drop it
                var name = TagName(html, i + 1, close);
                if (name.Equals("script", StringComparison.OrdinalIgnoreCase) || name.Equals("style", StringComparison.OrdinalIgnoreCase))
                {
                    int end = html.IndexOf("</" + name.ToString(), close, StringComparison.OrdinalIgnoreCase);
                    int endClose = end < 0 ? -1 : html.IndexOf('>', end);
                    i = endClose < 0 ? html.Length : endClose + 1;
                    continue;
                }
                if (BlockTags.GetAlternateLookup<ReadOnlySpan<char>>().Contains(name))
                {
                    TrimTrailingSpace(output);
                    if (output.Length > 0 && output[^1] != '\n') output.Append('\n'); // one break between blocks
                    space = true;
                }
                i = close + 1;
                continue;
            }
            if (c is ' ' or '\t' or '\r' or '\n' or '\f')
            {
                if (!space) { output.Append(' '); space = true; }
            }
            else
            {
                output.Append(c);
                space = false;
            }
            i++;
        }
        return WebUtility.HtmlDecode(output.ToString()).Replace('\u00A0', ' ').Trim();
    }

    static ReadOnlySpan<char> TagName(string html, int start, int end)
    {
        if (start < end && html[start] == '/') start++;
        int i = start;
        while (i < end && char.IsAsciiLetterOrDigit(html[i])) i++;
        return html.AsSpan(start, i - start);
    }

    static void TrimTrailingSpace(StringBuilder s)
    {
        while (s.Length > 0 && s[^1] == ' ') s.Length--;
    }
}
