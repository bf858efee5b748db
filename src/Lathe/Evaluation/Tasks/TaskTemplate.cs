using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Lathe.Evaluation.Tasks;

/// <summary>A task file's prompt template: literal text with <c>{{field}}</c> slots (spaces inside the braces allowed;
/// dotted paths reach into objects) filled from one document. Deliberately nothing more than substitution: a task's
/// logic lives in its data, and a template a user writes should never run code.</summary>
public sealed class TaskTemplate
{
    readonly List<(string Text, string[]? Path)> _parts = [];

    /// <summary>The template as written.</summary>
    public string Source { get; }

    /// <summary>Fields the template names, in order of appearance.</summary>
    public IReadOnlyList<string> Fields => _parts.Where(p => p.Path is not null).Select(p => string.Join('.', p.Path!)).ToList();

    /// <exception cref="FormatException">An unclosed <c>{{</c> or an empty field name.</exception>
    public TaskTemplate(string source)
    {
        Source = source;
        int at = 0;
        while (at < source.Length)
        {
            int open = source.IndexOf("{{", at, StringComparison.Ordinal);
            if (open < 0) { _parts.Add((source[at..], null)); break; }
            if (open > at) _parts.Add((source[at..open], null));
            int close = source.IndexOf("}}", open + 2, StringComparison.Ordinal);
            if (close < 0) throw new FormatException($"template \"{Shorten(source)}\": '{{{{' at {open} is never closed");
            string name = source[(open + 2)..close].Trim();
            if (name.Length == 0 || name.Split('.').Any(p => p.Length == 0))
                throw new FormatException($"template \"{Shorten(source)}\": an empty field name at {open}");
            _parts.Add(("", name.Split('.')));
            at = close + 2;
        }
    }

    /// <summary>True when the template is exactly one slot (e.g. <c>{{choices}}</c>), which may then name a non-string
    /// value (an array of choices, an integer answer).</summary>
    public bool IsSingleField => _parts.Count == 1 && _parts[0].Path is not null;

    /// <summary>The value of the single slot (see <see cref="IsSingleField"/>).</summary>
    /// <exception cref="KeyNotFoundException">The document lacks the field (the message names it).</exception>
    public JsonElement Value(JsonElement document) => Lookup(document, _parts[0].Path!);

    /// <summary>The text for <paramref name="document"/>: strings as they are, numbers in invariant culture, booleans
    /// as true/false.</summary>
    /// <exception cref="KeyNotFoundException">The document lacks a field the template names (the message names it).</exception>
    public string Render(JsonElement document)
    {
        if (_parts.Count == 1 && _parts[0].Path is null) return _parts[0].Text;
        var text = new StringBuilder();
        foreach (var (literal, path) in _parts)
        {
            if (path is null) { text.Append(literal); continue; }
            text.Append(Text(Lookup(document, path), string.Join('.', path)));
        }
        return text.ToString();
    }

    /// <summary>A scalar as template text.</summary>
    /// <exception cref="FormatException">An array, object or null where text is needed.</exception>
    public static string Text(JsonElement value, string field) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.Number => value.TryGetInt64(out long l) ? l.ToString(CultureInfo.InvariantCulture) : value.GetDouble().ToString("R", CultureInfo.InvariantCulture),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => throw new FormatException($"field '{field}' is {value.ValueKind.ToString().ToLowerInvariant()}, not text"),
    };

    static JsonElement Lookup(JsonElement document, string[] path)
    {
        var at = document;
        foreach (string key in path)
            if (at.ValueKind != JsonValueKind.Object || !at.TryGetProperty(key, out at))
                throw new KeyNotFoundException($"field '{string.Join('.', path)}' is missing");
        return at;
    }

    static string Shorten(string s) => (s.Length <= 40 ? s : s[..37] + "...").ReplaceLineEndings("\\n");

    /// <summary>A value from a task file or document as an error quotes it: in quotes, shortened, line breaks shown
    /// as \n, so the error stays one line (templates and documents routinely hold line breaks).</summary>
    internal static string Quote(string s) => "\"" + Shorten(s) + "\"";
}
