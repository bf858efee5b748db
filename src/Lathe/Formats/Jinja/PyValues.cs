using System.Text.Json;

namespace Lathe.Formats.Jinja;

// The values a template computes with, modelled on Python's: null is None, bool, long (int), double (float),
// string (str), List<object?> (list), object?[] (tuple), PyDict (dict, insertion-ordered), plus jinja2's Undefined,
// namespace(), the loop variable and callables (macros, globals, bound methods).

/// <summary>jinja2's default Undefined: prints as "", is false, iterates as empty; using it any other way (an
/// attribute, an item, arithmetic, a call) is an error naming what was undefined.</summary>
internal sealed class Undefined(string hint)
{
    /// <summary>"'name' is undefined" or "'dict object' has no attribute 'x'".</summary>
    public string Hint { get; } = hint;

    public static Undefined Named(string name) => new($"'{name}' is undefined");
}

/// <summary>A Python dict: keys compare as Python does (1 == 1.0 == True), iteration in insertion order.</summary>
internal sealed class PyDict
{
    readonly Dictionary<object, object?> _values = new(PyKeyComparer.Instance);
    readonly List<object> _order = [];

    public int Count => _order.Count;

    public bool TryGetValue(object key, out object? value) => _values.TryGetValue(key, out value);

    public bool ContainsKey(object key) => _values.ContainsKey(key);

    public void Set(object key, object? value)
    {
        if (!_values.ContainsKey(key)) _order.Add(key);
        _values[key] = value;
    }

    /// <summary>Keys in insertion order.</summary>
    public IReadOnlyList<object> Keys => _order;

    public IEnumerable<KeyValuePair<object, object?>> Items()
    {
        foreach (var k in _order) yield return new(k, _values[k]);
    }
}

internal sealed class PyKeyComparer : IEqualityComparer<object>
{
    public static readonly PyKeyComparer Instance = new();
    public new bool Equals(object? a, object? b) => PyOps.AreEqual(a, b);
    public int GetHashCode(object o) => o switch
    {
        bool b => (b ? 1L : 0L).GetHashCode(),
        long l => l.GetHashCode(),
        double d when d == Math.Floor(d) && Math.Abs(d) < 9e18 => ((long)d).GetHashCode(),
        double d => d.GetHashCode(),
        string s => s.GetHashCode(),
        object?[] t => t.Length,
        _ => o.GetHashCode(),
    };
}

/// <summary>jinja2's namespace(): the one object whose attributes a template may set from inside a loop.</summary>
internal sealed class Namespace
{
    public readonly Dictionary<string, object?> Attributes = [];
}

/// <summary>The arguments of a call: positional values and keyword values in the order written.</summary>
internal sealed record CallArguments(List<object?> Positional, List<KeyValuePair<string, object?>> Named)
{
    public static CallArguments Of(params object?[] positional) => new([.. positional], []);

    /// <summary>The argument at <paramref name="index"/> or named <paramref name="name"/>, else <paramref name="fallback"/>.</summary>
    public object? Get(int index, string name, object? fallback = null)
    {
        if (index >= 0 && index < Positional.Count) return Positional[index];
        foreach (var kv in Named) if (kv.Key == name) return kv.Value;
        return fallback;
    }

    public bool Has(int index, string name)
    {
        if (index >= 0 && index < Positional.Count) return true;
        foreach (var kv in Named) if (kv.Key == name) return true;
        return false;
    }
}

/// <summary>Anything a template can call: a macro, a global function, a bound method of a value.</summary>
internal sealed class PyCallable(string name, Func<CallArguments, object?> call)
{
    public string Name { get; } = name;
    public object? Call(CallArguments args) => call(args);
}

/// <summary>The for loop's <c>loop</c> variable.</summary>
internal sealed class LoopInfo(List<object?> items, int depth0)
{
    public int Index0;
    public readonly List<object?> Items = items;
    public readonly int Depth0 = depth0;

    public object? Attribute(string name) => name switch
    {
        "index0" => (long)Index0,
        "index" => (long)Index0 + 1,
        "revindex" => (long)(Items.Count - Index0),
        "revindex0" => (long)(Items.Count - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == Items.Count - 1,
        "length" => (long)Items.Count,
        "depth" => (long)Depth0 + 1,
        "depth0" => (long)Depth0,
        "previtem" => Index0 > 0 ? Items[Index0 - 1] : new Undefined("there is no previous item"),
        "nextitem" => Index0 + 1 < Items.Count ? Items[Index0 + 1] : new Undefined("there is no next item"),
        "cycle" => new PyCallable("loop.cycle", a =>
            a.Positional.Count == 0 ? throw new JinjaRuntimeError("no items for cycling given") : a.Positional[Index0 % a.Positional.Count]),
        _ => new Undefined($"'LoopContext object' has no attribute '{name}'"),
    };
}

/// <summary>An error while rendering (a Python exception in jinja2); the interpreter adds the template line.</summary>
internal sealed class JinjaRuntimeError(string message) : Exception(message)
{
    public bool RaisedByTemplate { get; init; }
}

/// <summary>Converts JSON (a conversation, tool schemas, extra template arguments) into template values: numbers
/// written with a fraction or exponent are floats, others ints, as Python's json module reads them.</summary>
internal static class PyJsonValues
{
    public static object? FromJson(JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
            {
                var d = new PyDict();
                foreach (var p in e.EnumerateObject()) d.Set(p.Name, FromJson(p.Value));
                return d;
            }
            case JsonValueKind.Array:
            {
                var l = new List<object?>();
                foreach (var item in e.EnumerateArray()) l.Add(FromJson(item));
                return l;
            }
            case JsonValueKind.String: return e.GetString();
            case JsonValueKind.True: return true;
            case JsonValueKind.False: return false;
            case JsonValueKind.Number:
            {
                string raw = e.GetRawText();
                if (raw.IndexOfAny(['.', 'e', 'E']) < 0 && e.TryGetInt64(out long l)) return l;
                return e.GetDouble();
            }
            default: return null;
        }
    }
}

/// <summary>jinja2's Markup (a str marked safe by the safe or escape filters). It behaves as its text everywhere
/// except in <c>+</c>: Markup + str escapes the str (&amp; &lt; &gt; " '), as MarkupSafe does.</summary>
internal sealed record Markup(string Text);

/// <summary>A Python generator or iterator, which jinja2's map, select, reject, selectattr, rejectattr, unique,
/// batch, items and reverse filters return: iterable once (a second loop sees nothing), always true, without len(),
/// not JSON-serializable, printed as its type. Templates that forget "| list" fail here as they fail in jinja2.</summary>
internal sealed class PyGenerator(List<object?> items, string typeName = "generator")
{
    List<object?>? _remaining = items;

    public string TypeName { get; } = typeName;

    /// <summary>The items not yet consumed; afterwards the generator is exhausted.</summary>
    public List<object?> Consume()
    {
        var items = _remaining ?? [];
        _remaining = null;
        return items;
    }
}
