using System.Globalization;
using System.Text;

namespace Lathe.Formats.Jinja;

/// <summary>The Python str methods chat templates call (strip, split, startswith, replace, format, …), with
/// Python's rules: strip() without arguments strips Unicode whitespace, split() without a separator splits on runs
/// of whitespace and drops empty parts, title() capitalises after every non-letter.</summary>
internal static class StringMethods
{
    public static PyCallable? Bind(string s, string name) => name switch
    {
        "strip" => new("str.strip", a => Strip(s, a.Get(0, "chars"), true, true)),
        "lstrip" => new("str.lstrip", a => Strip(s, a.Get(0, "chars"), true, false)),
        "rstrip" => new("str.rstrip", a => Strip(s, a.Get(0, "chars"), false, true)),
        "split" => new("str.split", a => Split(s, a.Get(0, "sep"), a.Get(1, "maxsplit", -1L))),
        "rsplit" => new("str.rsplit", a => RSplit(s, a.Get(0, "sep"), a.Get(1, "maxsplit", -1L))),
        "splitlines" => new("str.splitlines", a => SplitLines(s, PyOps.Truthy(a.Get(0, "keepends", false))).Select(x => (object?)x).ToList()),
        "startswith" => new("str.startswith", a => Affix(s, a.Get(0, "prefix"), start: true)),
        "endswith" => new("str.endswith", a => Affix(s, a.Get(0, "suffix"), start: false)),
        "upper" => new("str.upper", _ => s.ToUpperInvariant()),
        "lower" => new("str.lower", _ => s.ToLowerInvariant()),
        "title" => new("str.title", _ => Title(s)),
        "capitalize" => new("str.capitalize", _ => Capitalize(s)),
        "replace" => new("str.replace", a => Replace(s, Text(a.Get(0, "old")), Text(a.Get(1, "new")), PyOps.ToLong(a.Get(2, "count", -1L)))),
        "find" => new("str.find", a => (long)s.IndexOf(Text(a.Get(0, "sub")), StringComparison.Ordinal)),
        "rfind" => new("str.rfind", a => (long)s.LastIndexOf(Text(a.Get(0, "sub")), StringComparison.Ordinal)),
        "index" => new("str.index", a =>
        {
            int i = s.IndexOf(Text(a.Get(0, "sub")), StringComparison.Ordinal);
            return i >= 0 ? (long)i : throw new JinjaRuntimeError("substring not found");
        }),
        "count" => new("str.count", a => Count(s, Text(a.Get(0, "sub")))),
        "join" => new("str.join", a => string.Join(s, PyOps.Iterate(a.Get(0, "iterable")).Select(x => x is string t ? t
            : throw new JinjaRuntimeError($"sequence item: expected str instance, {PyOps.TypeName(x)} found")))),
        "format" => new("str.format", a => Format(s, a)),
        "removeprefix" => new("str.removeprefix", a => Text(a.Get(0, "prefix")) is var p && s.StartsWith(p, StringComparison.Ordinal) ? s[p.Length..] : s),
        "removesuffix" => new("str.removesuffix", a => Text(a.Get(0, "suffix")) is var p && p.Length > 0 && s.EndsWith(p, StringComparison.Ordinal) ? s[..^p.Length] : s),
        "isdigit" => new("str.isdigit", _ => s.Length > 0 && s.All(char.IsDigit)),
        "isnumeric" => new("str.isnumeric", _ => s.Length > 0 && s.All(char.IsDigit)),
        "isalpha" => new("str.isalpha", _ => s.Length > 0 && s.All(char.IsLetter)),
        "isalnum" => new("str.isalnum", _ => s.Length > 0 && s.All(char.IsLetterOrDigit)),
        "isspace" => new("str.isspace", _ => s.Length > 0 && s.All(char.IsWhiteSpace)),
        "isupper" => new("str.isupper", _ => s.Any(char.IsLetter) && !s.Any(char.IsLower)),
        "islower" => new("str.islower", _ => s.Any(char.IsLetter) && !s.Any(char.IsUpper)),
        _ => null,
    };

    static string Text(object? v) => v as string ?? throw new JinjaRuntimeError($"expected a string argument, got '{PyOps.TypeName(v)}'");

    public static string Strip(string s, object? chars, bool left, bool right)
    {
        if (chars is null)
        {
            if (left) s = s.TrimStart();
            if (right) s = s.TrimEnd();
            return s;
        }
        var set = Text(chars).ToCharArray();
        if (left) s = s.TrimStart(set);
        if (right) s = s.TrimEnd(set);
        return s;
    }

    static List<object?> Split(string s, object? sep, object? maxsplit)
    {
        long max = PyOps.ToLong(maxsplit);
        var parts = new List<object?>();
        if (sep is null)
        {
            int i = 0;
            while (true)
            {
                while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
                if (i >= s.Length) break;
                if (max >= 0 && parts.Count == max) { parts.Add(s[i..].TrimEnd()); break; }
                int j = i;
                while (j < s.Length && !char.IsWhiteSpace(s[j])) j++;
                parts.Add(s[i..j]);
                i = j;
            }
            return parts;
        }
        string d = Text(sep);
        if (d.Length == 0) throw new JinjaRuntimeError("empty separator");
        int start = 0;
        while (max < 0 || parts.Count < max)
        {
            int k = s.IndexOf(d, start, StringComparison.Ordinal);
            if (k < 0) break;
            parts.Add(s[start..k]);
            start = k + d.Length;
        }
        parts.Add(s[start..]);
        return parts;
    }

    static List<object?> RSplit(string s, object? sep, object? maxsplit)
    {
        long max = PyOps.ToLong(maxsplit);
        if (max < 0 || sep is null) return Split(s, sep, maxsplit);
        string d = Text(sep);
        var parts = new List<object?>();
        int end = s.Length;
        while (parts.Count < max)
        {
            int k = end - d.Length < 0 ? -1 : s.LastIndexOf(d, end - 1, end, StringComparison.Ordinal);
            if (k < 0 || d.Length == 0) break;
            parts.Insert(0, s[(k + d.Length)..end]);
            end = k;
        }
        parts.Insert(0, s[..end]);
        return parts;
    }

    // Python's str.splitlines: \n, \r, \r\n, \v, \f, \x1c-\x1e, \x85, \u2028, \u2029 end lines.
    public static List<string> SplitLines(string s, bool keepEnds)
    {
        var lines = new List<string>();
        int start = 0, i = 0;
        while (i < s.Length)
        {
            char c = s[i];
            int eol = c switch
            {
                '\r' when i + 1 < s.Length && s[i + 1] == '\n' => 2,
                '\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029' => 1,
                _ => 0,
            };
            if (eol == 0) { i++; continue; }
            lines.Add(keepEnds ? s[start..(i + eol)] : s[start..i]);
            i += eol;
            start = i;
        }
        if (start < s.Length) lines.Add(s[start..]);
        return lines;
    }

    static bool Affix(string s, object? affix, bool start)
    {
        if (affix is object?[] options)
        {
            foreach (var o in options) if (Affix(s, o, start)) return true;
            return false;
        }
        string a = affix as string ?? throw new JinjaRuntimeError($"{(start ? "startswith" : "endswith")} first arg must be str or a tuple of str, not {PyOps.TypeName(affix)}");
        return start ? s.StartsWith(a, StringComparison.Ordinal) : s.EndsWith(a, StringComparison.Ordinal);
    }

    public static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool previousCased = false;
        foreach (char c in s)
        {
            bool cased = char.IsUpper(c) || char.IsLower(c) || CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.TitlecaseLetter;
            sb.Append(cased ? (previousCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c)) : c);
            previousCased = cased;
        }
        return sb.ToString();
    }

    public static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    public static string Replace(string s, string old, string replacement, long count)
    {
        if (count < 0) return old.Length == 0 ? InsertEverywhere(s, replacement) : s.Replace(old, replacement, StringComparison.Ordinal);
        var sb = new StringBuilder();
        int start = 0;
        for (long n = 0; n < count; n++)
        {
            int k = old.Length == 0 ? (start <= s.Length ? start : -1) : s.IndexOf(old, start, StringComparison.Ordinal);
            if (k < 0) break;
            sb.Append(s, start, k - start).Append(replacement);
            if (old.Length == 0) { if (k < s.Length) sb.Append(s[k]); start = k + 1; }
            else start = k + old.Length;
        }
        if (start < s.Length) sb.Append(s, start, s.Length - start);
        return sb.ToString();
    }

    static string InsertEverywhere(string s, string r)
    {
        var sb = new StringBuilder(r);
        foreach (char c in s) sb.Append(c).Append(r);
        return sb.ToString();
    }

    static long Count(string s, string sub)
    {
        if (sub.Length == 0) return s.Length + 1;
        long n = 0;
        for (int k = s.IndexOf(sub, StringComparison.Ordinal); k >= 0; k = s.IndexOf(sub, k + sub.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    // str.format with {} / {0} / {name} fields and no format specs (the form templates use).
    static string Format(string s, CallArguments a)
    {
        var sb = new StringBuilder();
        int auto = 0;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c == '{' && i + 1 < s.Length && s[i + 1] == '{') { sb.Append('{'); i++; continue; }
            if (c == '}' && i + 1 < s.Length && s[i + 1] == '}') { sb.Append('}'); i++; continue; }
            if (c != '{') { sb.Append(c); continue; }
            int close = s.IndexOf('}', i);
            if (close < 0) throw new JinjaRuntimeError("Single '{' encountered in format string");
            string field = s[(i + 1)..close];
            if (field.Contains(':') || field.Contains('!')) throw new JinjaRuntimeError("str.format with format specs is not supported");
            object? value;
            if (field.Length == 0) value = a.Positional.Count > auto ? a.Positional[auto++] : throw new JinjaRuntimeError("Replacement index out of range for positional args tuple");
            else if (int.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out int index))
                value = index < a.Positional.Count ? a.Positional[index] : throw new JinjaRuntimeError("Replacement index out of range for positional args tuple");
            else value = a.Named.FirstOrDefault(kv => kv.Key == field) is { Key: not null } kv ? kv.Value : throw new JinjaRuntimeError($"KeyError: '{field}'");
            sb.Append(PyOps.Str(value));
            i = close;
        }
        return sb.ToString();
    }
}
