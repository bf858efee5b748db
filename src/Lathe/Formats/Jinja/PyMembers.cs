using System.Text;

namespace Lathe.Formats.Jinja;

/// <summary>Attribute and item access the way jinja2's ImmutableSandboxedEnvironment does it: <c>x.name</c> tries
/// the Python attribute first (a str, dict or list method) and then the item; <c>x[key]</c> the item first. Methods
/// that would modify a list or dict (append, update, pop…) are refused as the sandbox refuses them. A missing
/// attribute or item is Undefined; anything read from Undefined is an error.</summary>
internal static class PyMembers
{
    static readonly HashSet<string> MutatingListMethods = ["append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"];
    static readonly HashSet<string> MutatingDictMethods = ["pop", "popitem", "setdefault", "update", "clear"];

    public static object? GetAttribute(object? target, string name)
    {
        switch (PyOps.Plain(target))
        {
            case Undefined u: throw new JinjaRuntimeError(u.Hint);
            case LoopInfo loop: return loop.Attribute(name);
            case Namespace ns:
                return ns.Attributes.TryGetValue(name, out var v) ? v : new Undefined($"'Namespace object' has no attribute '{name}'");
            case string s:
                return StringMethods.Bind(s, name) ?? (object)new Undefined($"'str object' has no attribute '{name}'");
            case PyDict d:
                if (MutatingDictMethods.Contains(name)) throw Unsafe(name, "dict");
                if (DictMethod(d, name) is { } method) return method;
                return d.TryGetValue(name, out var item) ? item : new Undefined($"'dict object' has no attribute '{name}'");
            case List<object?> l:
                if (MutatingListMethods.Contains(name)) throw Unsafe(name, "list");
                return SequenceMethod(l, name) ?? (object)new Undefined($"'list object' has no attribute '{name}'");
            case object?[] t:
                return SequenceMethod(t, name) ?? (object)new Undefined($"'tuple object' has no attribute '{name}'");
            case null: return new Undefined($"'None' has no attribute '{name}'");
            default: return new Undefined($"'{PyOps.TypeName(target)} object' has no attribute '{name}'");
        }
    }

    static JinjaRuntimeError Unsafe(string name, string type) => new($"access to attribute '{name}' of '{type}' object is unsafe.");

    public static object? GetItem(object? target, object? key)
    {
        target = PyOps.Plain(target);
        key = PyOps.Plain(key);
        switch (target)
        {
            case Undefined u: throw new JinjaRuntimeError(u.Hint);
            case PyDict d when key is not (null or Undefined or List<object?> or PyDict) && d.TryGetValue(key, out var v):
                return v;
            case List<object?> or object?[] or string when key is long or bool:
            {
                var items = target is string s ? PyOps.Iterate(s) : PyOps.AsList(target)!;
                long i = PyOps.ToLong(key);
                if (i < 0) i += items.Count;
                return i >= 0 && i < items.Count ? items[(int)i] : new Undefined($"'{PyOps.TypeName(target)} object' has no element {key}");
            }
        }
        // As jinja2's getitem: a string key that is not an item may still name an attribute (x['items'] → x.items).
        if (key is string name) return GetAttribute(target, name);
        return new Undefined($"'{PyOps.TypeName(target)} object' has no element {PyOps.Repr(key)}");
    }

    /// <summary>Python slicing of a list, tuple or string: x[start:stop:step] with negative indices and steps.</summary>
    public static object? Slice(object? target, object? start, object? stop, object? step)
    {
        target = PyOps.Plain(target);
        if (target is Undefined u) throw new JinjaRuntimeError(u.Hint);
        // jinja2 turns a failed subscript into Undefined: bounds that are not integers slice nothing.
        if (start is not (null or long or bool) || stop is not (null or long or bool) || step is not (null or long or bool))
            return new Undefined($"'{PyOps.TypeName(target)} object' has no element slice");
        long st = step is null ? 1 : PyOps.ToLong(step);
        if (st == 0) throw new JinjaRuntimeError("slice step cannot be zero");
        var items = target switch
        {
            string s => PyOps.Iterate(s),
            List<object?> or object?[] => [.. PyOps.AsList(target)!],
            _ => throw new JinjaRuntimeError($"'{PyOps.TypeName(target)}' object is not subscriptable"),
        };
        long n = items.Count;
        long Clamp(object? v, long fallback, bool isStart)
        {
            if (v is null) return fallback;
            long i = PyOps.ToLong(v);
            if (i < 0) i += n;
            if (st > 0) return Math.Clamp(i, 0, n);
            return Math.Clamp(i, -1, n - 1);
        }
        long a = Clamp(start, st > 0 ? 0 : n - 1, true);
        long b = Clamp(stop, st > 0 ? n : -1, false);
        var result = new List<object?>();
        if (st > 0) for (long i = a; i < b; i += st) result.Add(items[(int)i]);
        else for (long i = a; i > b; i += st) result.Add(items[(int)i]);
        if (target is string)
        {
            var sb = new StringBuilder();
            foreach (var c in result) sb.Append((string)c!);
            return sb.ToString();
        }
        return target is object?[] ? result.ToArray() : result;
    }

    static PyCallable? DictMethod(PyDict d, string name) => name switch
    {
        "get" => new("dict.get", a =>
        {
            var key = a.Get(0, "key");
            return key is not (null or Undefined or List<object?> or PyDict) && d.TryGetValue(key, out var v) ? v : a.Get(1, "default");
        }),
        "items" => new("dict.items", _ =>
        {
            var l = new List<object?>();
            foreach (var kv in d.Items()) l.Add(new object?[] { kv.Key, kv.Value });
            return l;
        }),
        "keys" => new("dict.keys", _ => d.Keys.Select(k => (object?)k).ToList()),
        "values" => new("dict.values", _ => d.Items().Select(kv => kv.Value).ToList()),
        "copy" => new("dict.copy", _ =>
        {
            var c = new PyDict();
            foreach (var kv in d.Items()) c.Set(kv.Key, kv.Value);
            return c;
        }),
        _ => null,
    };

    static PyCallable? SequenceMethod(IReadOnlyList<object?> l, string name) => name switch
    {
        "index" => new("list.index", a =>
        {
            var x = a.Get(0, "value");
            for (int i = 0; i < l.Count; i++) if (PyOps.AreEqual(l[i], x)) return (long)i;
            throw new JinjaRuntimeError($"{PyOps.Repr(x)} is not in list");
        }),
        "count" => new("list.count", a =>
        {
            var x = a.Get(0, "value");
            long n = 0;
            foreach (var item in l) if (PyOps.AreEqual(item, x)) n++;
            return n;
        }),
        _ => null,
    };
}
