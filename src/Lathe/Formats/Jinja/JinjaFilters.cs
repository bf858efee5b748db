using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Lathe.Formats.Jinja;

/// <summary>jinja2's built-in filters that chat templates use, with jinja2's arguments and edge cases (default's
/// boolean flag, sort/unique/dictsort ignoring case unless asked, indent's first/blank, map/select/selectattr with
/// a test or attribute, first/last of an empty sequence being Undefined) and Hugging Face's tojson (json.dumps with
/// ensure_ascii=False, indent, separators, sort_keys).</summary>
internal static class JinjaFilters
{
    public static readonly HashSet<string> Names =
    [
        "abs", "attr", "batch", "capitalize", "center", "count", "default", "d", "dictsort", "escape", "e", "first",
        "float", "indent", "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min", "reject",
        "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "sort", "string", "striptags",
        "sum", "title", "tojson", "trim", "unique", "upper", "wordcount", "forceescape",
    ];

    public static object? Apply(string name, object? v, CallArguments a)
    {
        if (name is "safe") return v as Markup ?? new Markup(PyOps.Str(v));
        if (name is "escape" or "e") return v as Markup ?? new Markup(PyOps.Escape(PyOps.Str(v)));
        v = PyOps.Plain(v);
        switch (name)
        {
            case "abs":
                if (v is Undefined u) throw new JinjaRuntimeError(u.Hint);
                return v switch
                {
                    bool or long => (object)Math.Abs(PyOps.ToLong(v)),
                    double x => Math.Abs(x),
                    _ => throw new JinjaRuntimeError($"bad operand type for abs(): '{PyOps.TypeName(v)}'"),
                };
            case "attr": return PyMembers.GetAttribute(v, PyOps.Str(a.Get(0, "name")));
            case "batch": return Generator(Batch(v, PyOps.ToLong(a.Get(0, "linecount")), a.Get(1, "fill_with"), a.Has(1, "fill_with")));
            case "capitalize": return StringMethods.Capitalize(PyOps.Str(v));
            case "center":
            {
                string s = PyOps.Str(v);
                int width = (int)PyOps.ToLong(a.Get(0, "width", 80L));
                if (width <= s.Length) return s;
                int total = width - s.Length, left = total / 2 + (total & width & 1);
                return new string(' ', left) + s + new string(' ', total - left);
            }
            case "count" or "length": return PyOps.Length(v);
            case "default" or "d":
                return v is Undefined || (PyOps.Truthy(a.Get(1, "boolean", false)) && !PyOps.Truthy(v)) ? a.Get(0, "default_value", "") : v;
            case "dictsort": return DictSort(v, a);
            case "forceescape": return new Markup(PyOps.Escape(PyOps.Str(v)));
            case "first":
            {
                var items = PyOps.Iterate(v);
                return items.Count > 0 ? items[0] : new Undefined("No first item, sequence was empty.");
            }
            case "last":
            {
                if (v is PyGenerator g) throw new JinjaRuntimeError($"'{g.TypeName}' object is not reversible");
                var items = PyOps.Iterate(v);
                return items.Count > 0 ? items[^1] : new Undefined("No last item, sequence was empty.");
            }
            case "float": return ToFloat(v, a.Get(0, "default", 0.0));
            case "indent": return Indent(PyOps.Str(v), a.Get(0, "width", 4L), PyOps.Truthy(a.Get(1, "first", false)), PyOps.Truthy(a.Get(2, "blank", false)));
            case "int": return ToInt(v, a.Get(0, "default", 0L), PyOps.ToLong(a.Get(1, "base", 10L)));
            case "items":
                if (v is Undefined) return new List<object?>();
                if (v is not PyDict d) throw new JinjaRuntimeError("Can only get item pairs from a mapping.");
                return Generator(d.Items().Select(kv => (object?)new object?[] { kv.Key, kv.Value }).ToList());
            case "join":
            {
                var items = PyOps.Iterate(v);
                if (a.Get(1, "attribute") is { } attribute) items = items.Select(x => AttributeGetter(attribute)(x)).ToList();
                return string.Join(PyOps.Str(a.Get(0, "d", "")), items.Select(PyOps.Str));
            }
            case "list": return PyOps.Iterate(v);
            case "lower": return PyOps.Str(v).ToLowerInvariant();
            case "upper": return PyOps.Str(v).ToUpperInvariant();
            case "map": return Generator(Map(v, a));
            case "max" or "min":
            {
                var items = PyOps.Iterate(v);
                if (items.Count == 0) return new Undefined($"No {(name == "max" ? "largest" : "smallest")} item, sequence was empty.");
                var key = SortKey(a.Get(1, "attribute"), PyOps.Truthy(a.Get(0, "case_sensitive", false)));
                var best = items[0];
                foreach (var x in items.Skip(1))
                {
                    int c = PyOps.Compare(key(x), key(best), "<");
                    if (name == "max" ? c > 0 : c < 0) best = x;
                }
                return best;
            }
            case "select" or "reject": return Generator(Select(v, a, byAttribute: false, keep: name == "select"));
            case "selectattr" or "rejectattr": return Generator(Select(v, a, byAttribute: true, keep: name == "selectattr"));
            case "replace":
            {
                var count = a.Get(2, "count");
                return StringMethods.Replace(PyOps.Str(v), PyOps.Str(a.Get(0, "old")), PyOps.Str(a.Get(1, "new")), count is null ? -1 : PyOps.ToLong(count));
            }
            case "reverse":
                if (v is string rs) { var chars = PyOps.Iterate(rs); chars.Reverse(); return string.Concat(chars.Select(c => (string)c!)); }
                {
                    // reversed() of a list or tuple is an iterator; anything else is copied into a reversed list.
                    bool reversible = v is List<object?> or object?[];
                    var items = PyOps.Iterate(v);
                    items.Reverse();
                    return reversible ? new PyGenerator(items, v is List<object?> ? "list_reverseiterator" : "reversed") : items;
                }
            case "round": return Round(v, PyOps.ToLong(a.Get(0, "precision", 0L)), PyOps.Str(a.Get(1, "method", "common")));
            case "string": return PyOps.Str(v);
            case "sort":
            {
                var key = SortKey(a.Get(2, "attribute"), PyOps.Truthy(a.Get(1, "case_sensitive", false)));
                var items = PyOps.Iterate(v);
                var sorted = items.OrderBy(key, Comparer<object?>.Create((x, y) => PyOps.Compare(x, y, "<"))).ToList();
                if (PyOps.Truthy(a.Get(0, "reverse", false)))
                    sorted = items.OrderByDescending(key, Comparer<object?>.Create((x, y) => PyOps.Compare(x, y, "<"))).ToList();
                return sorted;
            }
            case "striptags":
            {
                string s = Regex.Replace(PyOps.Str(v), "<!--.*?-->|<[^>]*>", "", RegexOptions.Singleline);
                return string.Join(' ', s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
                    .Replace("&lt;", "<").Replace("&gt;", ">").Replace("&quot;", "\"").Replace("&#39;", "'").Replace("&amp;", "&");
            }
            case "sum":
            {
                object? total = a.Get(1, "start", 0L);
                var get = a.Get(0, "attribute") is { } attribute ? AttributeGetter(attribute) : (x => x);
                foreach (var x in PyOps.Iterate(v)) total = PyOps.Add(total, get(x));
                return total;
            }
            case "title": return JinjaTitle(PyOps.Str(v));
            case "tojson":
                return PyJson.Dumps(v, PyJson.MakeOptions(a.Get(0, "ensure_ascii", false), a.Get(1, "indent"), a.Get(2, "separators"), a.Get(3, "sort_keys", false)));
            case "trim": return StringMethods.Strip(PyOps.Str(v), a.Get(0, "chars"), true, true);
            case "unique":
            {
                var key = SortKey(a.Get(1, "attribute"), PyOps.Truthy(a.Get(0, "case_sensitive", false)));
                var seen = new List<object?>();
                var result = new List<object?>();
                foreach (var x in PyOps.Iterate(v))
                {
                    var k = key(x);
                    if (k is List<object?> or PyDict) throw new JinjaRuntimeError($"unhashable type: '{PyOps.TypeName(k)}'");
                    if (seen.Any(s => PyOps.AreEqual(s, k))) continue;
                    seen.Add(k);
                    result.Add(x);
                }
                return Generator(result);
            }
            case "wordcount": return (long)Regex.Matches(PyOps.Str(v), @"\w+").Count;
            default: throw new JinjaRuntimeError($"no filter named '{name}'");
        }
    }

    static PyGenerator Generator(List<object?> items) => new(items);

    // jinja2's title filter: every word start (after "-", whitespace or an opening bracket) upper-cased, the rest lower.
    static string JinjaTitle(string s)
    {
        var sb = new StringBuilder();
        foreach (var part in Regex.Split(s, @"([-\s({\[<]+)"))
            if (part.Length > 0) sb.Append(char.ToUpperInvariant(part[0])).Append(part[1..].ToLowerInvariant());
        return sb.ToString();
    }

    static string Indent(string s, object? width, bool first, bool blank)
    {
        string pad = width is string w ? w : new string(' ', (int)PyOps.ToLong(width));
        var lines = StringMethods.SplitLines(s + "\n", keepEnds: false);
        string result;
        if (blank) result = string.Join("\n" + pad, lines);
        else
        {
            result = lines[0];
            if (lines.Count > 1) result += "\n" + string.Join("\n", lines.Skip(1).Select(l => l.Length > 0 ? pad + l : l));
        }
        return first ? pad + result : result;
    }

    static object? ToInt(object? v, object? fallback, long numberBase)
    {
        switch (v)
        {
            case bool or long: return PyOps.ToLong(v);
            case double d: return double.IsFinite(d) ? (long)Math.Truncate(d) : fallback;
            case string s:
            {
                string t = s.Trim().Replace("_", "");
                try { if (t.Length > 0) return Convert.ToInt64(t, (int)numberBase); } catch (FormatException) { } catch (ArgumentException) { } catch (OverflowException) { }
                return ToFloat(s, null) is double f && double.IsFinite(f) ? (long)Math.Truncate(f) : fallback;
            }
            default: return fallback;
        }
    }

    static object? ToFloat(object? v, object? fallback) => v switch
    {
        bool or long => PyOps.ToDouble(v),
        double d => d,
        string s when double.TryParse(s.Trim().Replace("_", ""), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) => d,
        _ => fallback,
    };

    static object? Round(object? v, long precision, string method)
    {
        double x = PyOps.ToDouble(v is Undefined u ? throw new JinjaRuntimeError(u.Hint) : v);
        double scale = Math.Pow(10, precision);
        return method switch
        {
            "common" => Math.Round(x, (int)precision, MidpointRounding.ToEven),
            "ceil" => Math.Ceiling(x * scale) / scale,
            "floor" => Math.Floor(x * scale) / scale,
            _ => throw new JinjaRuntimeError("method must be common, ceil or floor"),
        };
    }

    static List<object?> Batch(object? v, long size, object? fill, bool hasFill)
    {
        if (size <= 0) throw new JinjaRuntimeError("batch size must be positive");
        var result = new List<object?>();
        List<object?>? current = null;
        foreach (var x in PyOps.Iterate(v))
        {
            current ??= [];
            current.Add(x);
            if (current.Count == size) { result.Add(current); current = null; }
        }
        if (current is not null)
        {
            if (hasFill) while (current.Count < size) current.Add(fill);
            result.Add(current);
        }
        return result;
    }

    /// <summary>jinja2's attribute getter for map/sort/selectattr: "a.b.0" walks items (integers as indices).</summary>
    public static Func<object?, object?> AttributeGetter(object? attribute, object? fallback = null, bool hasFallback = false)
    {
        var parts = attribute is string s ? s.Split('.').Select(p => long.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out long i) ? (object)i : p).ToArray()
            : [attribute!];
        return x =>
        {
            foreach (var part in parts) x = PyMembers.GetItem(x, part);
            return hasFallback && x is Undefined ? fallback : x;
        };
    }

    static Func<object?, object?> SortKey(object? attribute, bool caseSensitive)
    {
        var get = attribute is null ? (x => x) : AttributeGetter(attribute);
        return caseSensitive ? get : x => get(x) is string s ? s.ToLowerInvariant() : get(x);
    }

    static List<object?> DictSort(object? v, CallArguments a)
    {
        if (v is not PyDict d) throw new JinjaRuntimeError("You can only sort by either \"key\" or \"value\"");
        bool caseSensitive = PyOps.Truthy(a.Get(0, "case_sensitive", false));
        string by = PyOps.Str(a.Get(1, "by", "key"));
        if (by is not ("key" or "value")) throw new JinjaRuntimeError("You can only sort by either \"key\" or \"value\"");
        bool reverse = PyOps.Truthy(a.Get(2, "reverse", false));
        var pairs = d.Items().Select(kv => (object?)new object?[] { kv.Key, kv.Value }).ToList();
        object? Key(object? p) { var x = ((object?[])p!)[by == "key" ? 0 : 1]; return !caseSensitive && x is string s ? s.ToLowerInvariant() : x; }
        var cmp = Comparer<object?>.Create((x, y) => PyOps.Compare(x, y, "<"));
        return (reverse ? pairs.OrderByDescending(Key, cmp) : pairs.OrderBy(Key, cmp)).ToList();
    }

    // jinja2's map, select and their kin yield nothing for a false value (None, "", []) instead of failing.
    static List<object?> Map(object? v, CallArguments a)
    {
        var items = PyOps.Truthy(v) ? PyOps.Iterate(v) : [];
        if (a.Positional.Count == 0 && a.Get(-1, "attribute") is { } attribute)
        {
            bool hasDefault = a.Has(-1, "default");
            var get = AttributeGetter(attribute, a.Get(-1, "default"), hasDefault);
            return items.Select(get).ToList();
        }
        if (a.Positional.Count == 0) throw new JinjaRuntimeError("map requires a filter argument");
        string filter = PyOps.Str(a.Positional[0]);
        var rest = new CallArguments(a.Positional.Skip(1).ToList(), a.Named);
        return items.Select(x => Apply(filter, x, rest)).ToList();
    }

    static List<object?> Select(object? v, CallArguments a, bool byAttribute, bool keep)
    {
        var items = PyOps.Truthy(v) ? PyOps.Iterate(v) : [];
        int offset = 0;
        Func<object?, object?> get = x => x;
        if (byAttribute)
        {
            if (a.Positional.Count == 0) throw new JinjaRuntimeError("selectattr/rejectattr need an attribute");
            get = AttributeGetter(a.Positional[0]);
            offset = 1;
        }
        Func<object?, bool> test;
        if (a.Positional.Count > offset)
        {
            string name = PyOps.Str(a.Positional[offset]);
            var rest = new CallArguments(a.Positional.Skip(offset + 1).ToList(), a.Named);
            test = x => JinjaTestFunctions.Run(name, x, rest);
        }
        else test = PyOps.Truthy;
        return items.Where(x => test(get(x)) == keep).ToList();
    }
}
