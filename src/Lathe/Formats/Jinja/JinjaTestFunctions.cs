namespace Lathe.Formats.Jinja;

/// <summary>jinja2's built-in tests (<c>x is defined</c>, <c>x is string</c>, <c>n is divisibleby 3</c>, …) with
/// jinja2's meaning of each: a bool is a number, Undefined is iterable, a dict is a sequence.</summary>
internal static class JinjaTestFunctions
{
    public static readonly HashSet<string> Names =
    [
        "defined", "undefined", "none", "string", "mapping", "iterable", "sequence", "number", "integer", "float",
        "boolean", "true", "false", "callable", "equalto", "eq", "==", "ne", "!=", "lt", "<", "le", "<=", "gt", ">",
        "ge", ">=", "lessthan", "greaterthan", "odd", "even", "divisibleby", "in", "lower", "upper", "sameas",
        "escaped", "filter", "test",
    ];

    public static bool Run(string name, object? v, CallArguments a)
    {
        v = PyOps.Plain(v);
        object? Arg() => a.Get(0, "other", a.Get(0, "num", a.Get(0, "seq")));
        switch (name)
        {
            case "defined": return v is not Undefined;
            case "undefined": return v is Undefined;
            case "none": return v is null;
            case "string": return v is string;
            case "mapping": return v is PyDict;
            case "iterable": return v is string or List<object?> or object?[] or PyDict or Undefined or PyGenerator;
            case "sequence": return v is string or List<object?> or object?[] or PyDict or Undefined;
            case "number": return v is bool or long or double;
            case "integer": return v is long;
            case "float": return v is double;
            case "boolean": return v is bool;
            case "true": return v is true;
            case "false": return v is false;
            case "callable": return v is PyCallable;
            case "equalto" or "eq" or "==": return PyOps.AreEqual(v, Arg());
            case "ne" or "!=": return !PyOps.AreEqual(v, Arg());
            case "lt" or "<" or "lessthan": return PyOps.Compare(v, Arg(), "<") < 0;
            case "le" or "<=": return PyOps.Compare(v, Arg(), "<=") <= 0;
            case "gt" or ">" or "greaterthan": return PyOps.Compare(v, Arg(), ">") > 0;
            case "ge" or ">=": return PyOps.Compare(v, Arg(), ">=") >= 0;
            case "odd": return Integer(v, name) % 2 != 0;
            case "even": return Integer(v, name) % 2 == 0;
            case "divisibleby":
            {
                long n = Integer(Arg(), name);
                if (n == 0) throw new JinjaRuntimeError("integer division or modulo by zero");
                return (long)PyOps.Arithmetic("%", v, n)! == 0;
            }
            case "in": return PyOps.Contains(Arg(), v);
            case "lower": return PyOps.Str(v) == PyOps.Str(v).ToLowerInvariant();
            case "upper": return PyOps.Str(v) == PyOps.Str(v).ToUpperInvariant();
            case "sameas": return ReferenceEquals(v, Arg()) || (v is null && Arg() is null) || (v is bool b && Arg() is bool c && b == c);
            case "escaped": return false;
            case "filter": return v is string f && JinjaFilters.Names.Contains(f);
            case "test": return v is string t && Names.Contains(t);
            default: throw new JinjaRuntimeError($"no test named '{name}'");
        }
    }

    static long Integer(object? v, string test) => v switch
    {
        bool or long => PyOps.ToLong(v),
        Undefined u => throw new JinjaRuntimeError(u.Hint),
        _ => throw new JinjaRuntimeError($"test '{test}' needs an integer, got '{PyOps.TypeName(v)}'"),
    };
}
