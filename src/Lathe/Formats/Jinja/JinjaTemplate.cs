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

    // jinja2 resolves filters and tests when it compiles: an unknown one fails at load, not at the first render —
    // except inside an if block or a conditional expression (jinja2's "soft" frames), where it fails only if reached.
    static void Validate(List<Node> nodes, bool soft = false)
    {
        foreach (var node in nodes)
        {
            switch (node)
            {
                case OutputNode o: Validate(o.Value, soft); break;
                case IfNode i: Validate(i.Test, true); Validate(i.Body, true); Validate(i.Else, true); break;
                case ForNode f: Validate(f.Iterable, soft); Validate(f.Filter, false); Validate(f.Body); Validate(f.Else); break;
                case SetNode s: Validate(s.Value, soft); break;
                case SetBlockNode s: Validate(s.Filter, soft); Validate(s.Body); break;
                case MacroNode m: foreach (var p in m.Parameters) Validate(p.Default, false); Validate(m.Body); break;
                case CallBlockNode c: Validate(c.Call, soft); Validate(c.Body); break;
                case FilterBlockNode fb: Validate(fb.Filter, soft); Validate(fb.Body); break;
                case WithNode w: foreach (var (_, v) in w.Assignments) Validate(v, soft); Validate(w.Body); break;
                case GenerationNode g: Validate(g.Body); break;
            }
        }
    }

    static void Validate(Expr? e, bool soft)
    {
        switch (e)
        {
            case null or ConstExpr or NameExpr: break;
            case ListExpr l: foreach (var x in l.Items) Validate(x, soft); break;
            case TupleExpr t: foreach (var x in t.Items) Validate(x, soft); break;
            case DictExpr d: foreach (var (k, v) in d.Items) { Validate(k, soft); Validate(v, soft); } break;
            case AttributeExpr a: Validate(a.Target, soft); break;
            case ItemExpr i: Validate(i.Target, soft); Validate(i.Key, soft); break;
            case SliceExpr s: Validate(s.Start, soft); Validate(s.Stop, soft); Validate(s.Step, soft); break;
            case CallExpr c: Validate(c.Target, soft); Validate(c.Args, soft); break;
            case FilterExpr f:
                if (!soft && !JinjaFilters.Names.Contains(f.Name)) throw JinjaException.At(f.Line, $"filter '{f.Name}' is not supported");
                Validate(f.Target, soft); Validate(f.Args, soft);
                break;
            case TestExpr t:
                if (!soft && !JinjaTestFunctions.Names.Contains(t.Name)) throw JinjaException.At(t.Line, $"test '{t.Name}' is not supported");
                Validate(t.Target, soft); Validate(t.Args, soft);
                break;
            case UnaryExpr u: Validate(u.Operand, soft); break;
            case BinaryExpr b: Validate(b.Left, soft); Validate(b.Right, soft); break;
            case CompareExpr c: Validate(c.First, soft); foreach (var (_, x) in c.Rest) Validate(x, soft); break;
            case ConcatExpr c: foreach (var x in c.Parts) Validate(x, soft); break;
            case ConditionalExpr c: Validate(c.Test, true); Validate(c.Then, true); Validate(c.Else, true); break;
        }
    }

    static void Validate(Arguments a, bool soft)
    {
        foreach (var x in a.Positional) Validate(x, soft);
        foreach (var (_, v) in a.Named) Validate(v, soft);
        Validate(a.Star, soft);
        Validate(a.DoubleStar, soft);
    }
}
