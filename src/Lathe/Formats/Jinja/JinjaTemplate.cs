using System.Globalization;
using System.Text;

namespace Lathe.Formats.Jinja;

/// <summary>A parsed Jinja template, rendered the way Hugging Face's apply_chat_template renders chat templates
/// with jinja2: an immutable sandbox with trim_blocks and lstrip_blocks, break/continue, the globals
/// <c>raise_exception(message)</c> and <c>strftime_now(format)</c> beside jinja2's range, dict and namespace, and
/// HF's tojson. Parsing checks every tag, filter and test up front, so a template Lathe cannot run fails at load
/// with one line naming the construct and its line.</summary>
public sealed class JinjaTemplate
{
    readonly List<Node> _body;

    JinjaTemplate(List<Node> body) { _body = body; }

    /// <summary>Parses <paramref name="source"/>; <see cref="JinjaException"/> names the construct and line.</summary>
    public static JinjaTemplate Parse(string source)
    {
        var body = JinjaParser.Parse(source);
        Validate(body);
        return new JinjaTemplate(body);
    }

    /// <summary>Renders with <paramref name="context"/>'s values (from <see cref="FromJson"/> or plain .NET values:
    /// string, bool, long, double, null, lists and string-keyed dictionaries of them). <paramref name="now"/> is
    /// what strftime_now formats (default: the local time now).</summary>
    public string Render(IReadOnlyDictionary<string, object?> context, DateTime? now = null)
    {
        var values = new Dictionary<string, object?>();
        foreach (var kv in context) values[kv.Key] = FromClr(kv.Value);
        return new JinjaInterpreter(Globals(now ?? DateTime.Now)).Render(_body, values);
    }

    /// <summary>A JSON value as a template value (objects keep their key order; 1 is an int, 1.0 a float).</summary>
    public static object? FromJson(System.Text.Json.JsonElement json) => PyJsonValues.FromJson(json);

    static object? FromClr(object? v) => v switch
    {
        null or string or bool or long or double or PyDict or Undefined => v,
        object?[] t => t.Select(FromClr).ToArray(),
        int i => (long)i,
        float f => (double)f,
        System.Text.Json.JsonElement e => PyJsonValues.FromJson(e),
        IDictionary<string, object?> d => ToDict(d),
        System.Collections.IEnumerable e => e.Cast<object?>().Select(FromClr).ToList(),
        _ => throw new ArgumentException($"template value of type {v.GetType().Name} is not supported"),
    };

    static PyDict ToDict(IDictionary<string, object?> d)
    {
        var r = new PyDict();
        foreach (var kv in d) r.Set(kv.Key, FromClr(kv.Value));
        return r;
    }

    static Dictionary<string, object?> Globals(DateTime now) => new()
    {
        ["range"] = new PyCallable("range", Range),
        ["namespace"] = new PyCallable("namespace", a =>
        {
            var ns = new Namespace();
            foreach (var p in a.Positional)
            {
                if (p is not PyDict d) throw new JinjaRuntimeError("namespace() takes keyword arguments or a mapping");
                foreach (var kv in d.Items()) ns.Attributes[PyOps.Str(kv.Key)] = kv.Value;
            }
            foreach (var kv in a.Named) ns.Attributes[kv.Key] = kv.Value;
            return ns;
        }),
        ["dict"] = new PyCallable("dict", a =>
        {
            var d = new PyDict();
            foreach (var kv in a.Named) d.Set(kv.Key, kv.Value);
            return d;
        }),
        ["raise_exception"] = new PyCallable("raise_exception", a =>
            throw new JinjaRuntimeError(PyOps.Str(a.Get(0, "message"))) { RaisedByTemplate = true }),
        ["strftime_now"] = new PyCallable("strftime_now", a => Strftime(now, PyOps.Str(a.Get(0, "format")))),
    };

    static object? Range(CallArguments a)
    {
        long start = 0, stop, step = 1;
        if (a.Positional.Count == 1) stop = PyOps.ToLong(a.Positional[0]);
        else if (a.Positional.Count is 2 or 3)
        {
            start = PyOps.ToLong(a.Positional[0]);
            stop = PyOps.ToLong(a.Positional[1]);
            if (a.Positional.Count == 3) step = PyOps.ToLong(a.Positional[2]);
        }
        else throw new JinjaRuntimeError($"range expected 1 to 3 arguments, got {a.Positional.Count}");
        if (step == 0) throw new JinjaRuntimeError("range() arg 3 must not be zero");
        var items = new List<object?>();
        for (long i = start; step > 0 ? i < stop : i > stop; i += step)
        {
            if (items.Count >= 100_000) throw new JinjaRuntimeError("range too big, maximum size for range is 100000");
            items.Add(i);
        }
        return items;
    }

    // Python's strftime for the directives templates use (%d %b %Y and friends), C locale.
    static string Strftime(DateTime t, string format)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length) { sb.Append(format[i]); continue; }
            char d = format[++i];
            sb.Append(d switch
            {
                'd' => t.ToString("dd", c),
                'm' => t.ToString("MM", c),
                'Y' => t.ToString("yyyy", c),
                'y' => t.ToString("yy", c),
                'b' => t.ToString("MMM", c),
                'B' => t.ToString("MMMM", c),
                'a' => t.ToString("ddd", c),
                'A' => t.ToString("dddd", c),
                'H' => t.ToString("HH", c),
                'I' => t.ToString("hh", c),
                'M' => t.ToString("mm", c),
                'S' => t.ToString("ss", c),
                'p' => t.Hour < 12 ? "AM" : "PM",
                'j' => t.DayOfYear.ToString("000", c),
                'e' => t.Day.ToString(c).PadLeft(2),
                '%' => "%",
                _ => throw new JinjaRuntimeError($"strftime_now: directive %{d} is not supported"),
            });
        }
        return sb.ToString();
    }

    // jinja2 resolves filters and tests when it compiles: an unknown one fails at load, not at the first render.
    static void Validate(List<Node> nodes)
    {
        foreach (var node in nodes)
        {
            switch (node)
            {
                case OutputNode o: Validate(o.Value); break;
                case IfNode i: Validate(i.Test); Validate(i.Body); Validate(i.Else); break;
                case ForNode f: Validate(f.Iterable); if (f.Filter is not null) Validate(f.Filter); Validate(f.Body); Validate(f.Else); break;
                case SetNode s: Validate(s.Value); break;
                case SetBlockNode s: if (s.Filter is not null) Validate(s.Filter); Validate(s.Body); break;
                case MacroNode m: foreach (var p in m.Parameters) if (p.Default is not null) Validate(p.Default); Validate(m.Body); break;
                case CallBlockNode c: Validate(c.Call); Validate(c.Body); break;
                case FilterBlockNode fb: Validate(fb.Filter); Validate(fb.Body); break;
                case WithNode w: foreach (var (_, v) in w.Assignments) Validate(v); Validate(w.Body); break;
                case GenerationNode g: Validate(g.Body); break;
            }
        }
    }

    static void Validate(Expr? e)
    {
        switch (e)
        {
            case null or ConstExpr or NameExpr: break;
            case ListExpr l: l.Items.ForEach(Validate); break;
            case TupleExpr t: t.Items.ForEach(Validate); break;
            case DictExpr d: foreach (var (k, v) in d.Items) { Validate(k); Validate(v); } break;
            case AttributeExpr a: Validate(a.Target); break;
            case ItemExpr i: Validate(i.Target); Validate(i.Key); break;
            case SliceExpr s: Validate(s.Start); Validate(s.Stop); Validate(s.Step); break;
            case CallExpr c: Validate(c.Target); Validate(c.Args); break;
            case FilterExpr f:
                if (!JinjaFilters.Names.Contains(f.Name)) throw JinjaException.At(f.Line, $"filter '{f.Name}' is not supported");
                Validate(f.Target); Validate(f.Args);
                break;
            case TestExpr t:
                if (!JinjaTestFunctions.Names.Contains(t.Name)) throw JinjaException.At(t.Line, $"test '{t.Name}' is not supported");
                Validate(t.Target); Validate(t.Args);
                break;
            case UnaryExpr u: Validate(u.Operand); break;
            case BinaryExpr b: Validate(b.Left); Validate(b.Right); break;
            case CompareExpr c: Validate(c.First); foreach (var (_, x) in c.Rest) Validate(x); break;
            case ConcatExpr c: c.Parts.ForEach(Validate); break;
            case ConditionalExpr c: Validate(c.Test); Validate(c.Then); Validate(c.Else); break;
        }
    }

    static void Validate(Arguments a)
    {
        a.Positional.ForEach(Validate);
        foreach (var (_, v) in a.Named) Validate(v);
        Validate(a.Star);
        Validate(a.DoubleStar);
    }
}
