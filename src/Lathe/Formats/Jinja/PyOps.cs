using System.Globalization;
using System.Text;

namespace Lathe.Formats.Jinja;

/// <summary>Python's semantics for template values: str() and repr() as Python prints them, truthiness, ==, ordering,
/// arithmetic (int stays int, / is true division, // and % floor), iteration and len().</summary>
internal static class PyOps
{
    /// <summary>Markup as its plain text; every other value as it is.</summary>
    public static object? Plain(object? v) => v is Markup m ? m.Text : v;

    public static string TypeName(object? v) => v switch
    {
        null => "NoneType",
        Markup => "str",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        object?[] => "tuple",
        PyDict => "dict",
        Undefined => "Undefined",
        Namespace => "Namespace",
        LoopInfo => "LoopContext",
        PyCallable => "function",
        PyGenerator g => g.TypeName,
        _ => v.GetType().Name,
    };

    public static bool IsNumber(object? v) => v is bool or long or double;

    public static bool Truthy(object? v) => v switch
    {
        null => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        Markup m => m.Text.Length > 0,
        List<object?> l => l.Count > 0,
        object?[] t => t.Length > 0,
        PyDict d => d.Count > 0,
        Undefined => false,
        _ => true,
    };

    /// <summary>Python's str(): strings as they are, everything else as repr (floats shortest round-trip).</summary>
    public static string Str(object? v) => v switch
    {
        string s => s,
        Markup m => m.Text,
        Undefined => "",
        _ => Repr(v),
    };

    public static string Repr(object? v)
    {
        var sb = new StringBuilder();
        AppendRepr(sb, v);
        return sb.ToString();
    }

    static void AppendRepr(StringBuilder sb, object? v)
    {
        switch (v)
        {
            case null: sb.Append("None"); break;
            case bool b: sb.Append(b ? "True" : "False"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d: sb.Append(FloatRepr(d)); break;
            case string s: AppendStringRepr(sb, s); break;
            case Markup m: sb.Append("Markup("); AppendStringRepr(sb, m.Text); sb.Append(')'); break;
            case List<object?> list:
                sb.Append('[');
                for (int i = 0; i < list.Count; i++) { if (i > 0) sb.Append(", "); AppendRepr(sb, list[i]); }
                sb.Append(']');
                break;
            case object?[] t:
                sb.Append('(');
                for (int i = 0; i < t.Length; i++) { if (i > 0) sb.Append(", "); AppendRepr(sb, t[i]); }
                if (t.Length == 1) sb.Append(',');
                sb.Append(')');
                break;
            case PyDict d:
            {
                sb.Append('{');
                bool first = true;
                foreach (var kv in d.Items())
                {
                    if (!first) sb.Append(", ");
                    first = false;
                    AppendRepr(sb, kv.Key);
                    sb.Append(": ");
                    AppendRepr(sb, kv.Value);
                }
                sb.Append('}');
                break;
            }
            case Undefined: sb.Append("Undefined"); break;
            case Namespace ns:
                sb.Append("<Namespace {");
                bool firstAttr = true;
                foreach (var kv in ns.Attributes)
                {
                    if (!firstAttr) sb.Append(", ");
                    firstAttr = false;
                    AppendStringRepr(sb, kv.Key);
                    sb.Append(": ");
                    AppendRepr(sb, kv.Value);
                }
                sb.Append("}>");
                break;
            case PyCallable c: sb.Append("<function ").Append(c.Name).Append('>'); break;
            case PyGenerator g: sb.Append('<').Append(g.TypeName).Append(" object>"); break;
            default: sb.Append(v); break;
        }
    }

    // Python's str.__repr__: single quotes unless the text has ' and no ", escapes for \\, the quote, \n \r \t and
    // non-printable characters; printable non-ASCII stays as it is.
    static void AppendStringRepr(StringBuilder sb, string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        sb.Append(quote);
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c == quote || c == '\\') sb.Append('\\').Append(c);
            else if (c == '\n') sb.Append("\\n");
            else if (c == '\r') sb.Append("\\r");
            else if (c == '\t') sb.Append("\\t");
            else if (c < 0x20 || c == 0x7f) sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
            else if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) { sb.Append(c).Append(s[i + 1]); i++; }
            else if (c >= 0x80 && !IsPrintable(c))
                sb.Append(c <= 0xff ? "\\x" + ((int)c).ToString("x2", CultureInfo.InvariantCulture) : "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture));
            else sb.Append(c);
        }
        sb.Append(quote);
    }

    static bool IsPrintable(char c)
    {
        var cat = CharUnicodeInfo.GetUnicodeCategory(c);
        return cat is not (UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse
            or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
            && !(cat == UnicodeCategory.SpaceSeparator && c != ' ');
    }

    /// <summary>Python's float repr: the shortest digits that round-trip, fixed notation when the decimal exponent
    /// is in [-4, 16), otherwise d.ddde±XX.</summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        if (d == 0) return double.IsNegative(d) ? "-0.0" : "0.0";
        string r = Math.Abs(d).ToString("R", CultureInfo.InvariantCulture);
        int exp = 0;
        int e = r.IndexOfAny(['E', 'e']);
        if (e >= 0) { exp = int.Parse(r[(e + 1)..], CultureInfo.InvariantCulture); r = r[..e]; }
        int dot = r.IndexOf('.');
        string digits = dot >= 0 ? r.Remove(dot, 1) : r;
        int pointPos = (dot >= 0 ? dot : r.Length) + exp;   // value = 0.digits × 10^pointPos before trimming zeros
        int lead = 0;
        while (lead < digits.Length - 1 && digits[lead] == '0') { lead++; pointPos--; }
        digits = digits[lead..].TrimEnd('0');
        if (digits.Length == 0) digits = "0";
        var sb = new StringBuilder();
        if (d < 0) sb.Append('-');
        if (pointPos > -4 && pointPos <= 16)
        {
            if (pointPos <= 0) sb.Append("0.").Append('0', -pointPos).Append(digits);
            else if (pointPos >= digits.Length) sb.Append(digits).Append('0', pointPos - digits.Length).Append(".0");
            else sb.Append(digits, 0, pointPos).Append('.').Append(digits, pointPos, digits.Length - pointPos);
        }
        else
        {
            sb.Append(digits[0]);
            if (digits.Length > 1) sb.Append('.').Append(digits, 1, digits.Length - 1);
            int x = pointPos - 1;
            sb.Append('e').Append(x < 0 ? '-' : '+').Append(Math.Abs(x).ToString("00", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    public static bool AreEqual(object? a, object? b)
    {
        a = Plain(a);
        b = Plain(b);
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double) return ToDouble(a) == ToDouble(b);
            return ToLong(a) == ToLong(b);
        }
        switch (a)
        {
            case null: return b is null;
            case string s: return b is string t && s == t;
            case List<object?> l: return b is List<object?> m && SequenceEqual(l, m);
            case object?[] tuple: return b is object?[] otherTuple && SequenceEqual(tuple, otherTuple);
            case PyDict d:
                if (b is not PyDict e || d.Count != e.Count) return false;
                foreach (var kv in d.Items())
                    if (!e.TryGetValue(kv.Key, out var other) || !AreEqual(kv.Value, other)) return false;
                return true;
            case Undefined: return b is Undefined;
            default: return ReferenceEquals(a, b);
        }
    }

    static bool SequenceEqual(IReadOnlyList<object?> a, IReadOnlyList<object?> b)
    {
        if (a.Count != b.Count) return false;
        for (int i = 0; i < a.Count; i++) if (!AreEqual(a[i], b[i])) return false;
        return true;
    }

    /// <summary>Python's ordering (&lt;, &gt;…): numbers, strings by code point, sequences element by element.</summary>
    public static int Compare(object? a, object? b, string op)
    {
        a = Plain(a);
        b = Plain(b);
        if (a is Undefined u) throw new JinjaRuntimeError(u.Hint);
        if (b is Undefined v) throw new JinjaRuntimeError(v.Hint);
        if (IsNumber(a) && IsNumber(b))
            return a is double || b is double ? ToDouble(a).CompareTo(ToDouble(b)) : ToLong(a).CompareTo(ToLong(b));
        if (a is string s && b is string t) return Math.Sign(string.CompareOrdinal(s, t));
        if ((a is List<object?> && b is List<object?>) || (a is object?[] && b is object?[]))
        {
            var x = AsList(a)!;
            var y = AsList(b)!;
            for (int i = 0; i < Math.Min(x.Count, y.Count); i++)
                if (!AreEqual(x[i], y[i])) return Compare(x[i], y[i], op);
            return x.Count.CompareTo(y.Count);
        }
        throw new JinjaRuntimeError($"'{op}' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'");
    }

    public static IReadOnlyList<object?>? AsList(object? v) => v switch
    {
        List<object?> l => l,
        object?[] t => t,
        _ => null,
    };

    public static long ToLong(object? v) => v switch
    {
        bool b => b ? 1 : 0,
        long l => l,
        double d => (long)d,
        _ => throw new JinjaRuntimeError($"expected a number, got '{TypeName(v)}'"),
    };

    public static double ToDouble(object? v) => v switch
    {
        bool b => b ? 1 : 0,
        long l => l,
        double d => d,
        _ => throw new JinjaRuntimeError($"expected a number, got '{TypeName(v)}'"),
    };

    /// <summary>The items a for loop or a filter iterates: a list's or tuple's items, a dict's keys, a string's
    /// characters; Undefined iterates as empty.</summary>
    public static List<object?> Iterate(object? v)
    {
        switch (Plain(v))
        {
            case List<object?> l: return [.. l];
            case object?[] t: return [.. t];
            case PyDict d: return [.. d.Keys];
            case PyGenerator g: return g.Consume();
            case string s:
            {
                var chars = new List<object?>(s.Length);
                for (int i = 0; i < s.Length; i++)
                {
                    if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length) { chars.Add(s.Substring(i, 2)); i++; }
                    else chars.Add(s[i].ToString());
                }
                return chars;
            }
            case Undefined: return [];
            default: throw new JinjaRuntimeError($"'{TypeName(v)}' object is not iterable");
        }
    }

    public static long Length(object? v) => Plain(v) switch
    {
        string s => new StringInfoLength(s).Value,
        List<object?> l => l.Count,
        object?[] t => t.Length,
        PyDict d => d.Count,
        Undefined => 0,
        _ => throw new JinjaRuntimeError($"object of type '{TypeName(v)}' has no len()"),
    };

    // len() of a Python str counts code points, not UTF-16 units.
    readonly struct StringInfoLength(string s)
    {
        public long Value
        {
            get
            {
                long n = 0;
                for (int i = 0; i < s.Length; i++) { n++; if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) i++; }
                return n;
            }
        }
    }

    public static bool Contains(object? container, object? item)
    {
        item = Plain(item);
        switch (Plain(container))
        {
            case string s:
                if (item is not string t) throw new JinjaRuntimeError($"'in <string>' requires string as left operand, not {TypeName(item)}");
                return s.Contains(t, StringComparison.Ordinal);
            case PyDict d: return item is not null && item is not Undefined && IsHashable(item) && d.ContainsKey(item);
            case Undefined: return false;
            default:
                foreach (var x in Iterate(container)) if (AreEqual(x, item)) return true;
                return false;
        }
    }

    static bool IsHashable(object item) => item is not (List<object?> or PyDict);

    public static object? Add(object? a, object? b)
    {
        ThrowIfUndefined(a, b);
        if (a is Markup || b is Markup)
        {
            if (a is not (string or Markup) || b is not (string or Markup)) throw Unsupported("+", a, b);
            return new Markup(MarkupText(a) + MarkupText(b));
        }
        if (IsNumber(a) && IsNumber(b)) return a is double || b is double ? (object)(ToDouble(a) + ToDouble(b)) : ToLong(a) + ToLong(b);
        if (a is string s && b is string t) return s + t;
        if (a is List<object?> l && b is List<object?> m) return (List<object?>)[.. l, .. m];
        if (a is object?[] x && b is object?[] y) return (object?[])[.. x, .. y];
        if (a is string) throw new JinjaRuntimeError($"can only concatenate str (not \"{TypeName(b)}\") to str");
        if (a is List<object?>) throw new JinjaRuntimeError($"can only concatenate list (not \"{TypeName(b)}\") to list");
        throw Unsupported("+", a, b);
    }

    // A str joining Markup is escaped first (MarkupSafe's __add__ / __radd__).
    static string MarkupText(object? v) => v is Markup m ? m.Text : Escape((string)v!);

    /// <summary>MarkupSafe's escape: &amp; &lt; &gt; " ' as entities.</summary>
    public static string Escape(string s) =>
        s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&#34;").Replace("'", "&#39;");

    public static object? Arithmetic(string op, object? a, object? b)
    {
        if (op == "+") return Add(a, b);
        a = Plain(a);
        b = Plain(b);
        ThrowIfUndefined(a, b);
        if (op == "*")
        {
            if (a is string s && b is bool or long) return Repeat(s, ToLong(b));
            if (b is string t && a is bool or long) return Repeat(t, ToLong(a));
            if (a is List<object?> l && b is bool or long) return RepeatList(l, ToLong(b));
        }
        if (!IsNumber(a) || !IsNumber(b))
        {
            if (op == "%" && a is string) throw new JinjaRuntimeError("printf-style '%' string formatting is not supported");
            throw Unsupported(op, a, b);
        }
        bool isFloat = a is double || b is double;
        switch (op)
        {
            case "-": return isFloat ? (object)(ToDouble(a) - ToDouble(b)) : ToLong(a) - ToLong(b);
            case "*": return isFloat ? (object)(ToDouble(a) * ToDouble(b)) : ToLong(a) * ToLong(b);
            case "/":
                if (ToDouble(b) == 0) throw new JinjaRuntimeError("division by zero");
                return ToDouble(a) / ToDouble(b);
            case "//":
                if (ToDouble(b) == 0) throw new JinjaRuntimeError("integer division or modulo by zero");
                if (isFloat) return Math.Floor(ToDouble(a) / ToDouble(b));
                { long x = ToLong(a), y = ToLong(b); long q = x / y; if ((x % y != 0) && ((x < 0) != (y < 0))) q--; return q; }
            case "%":
                if (ToDouble(b) == 0) throw new JinjaRuntimeError("integer division or modulo by zero");
                if (isFloat) { double x = ToDouble(a), y = ToDouble(b); double m = x % y; if (m != 0 && (m < 0) != (y < 0)) m += y; return m; }
                { long x = ToLong(a), y = ToLong(b); long m = x % y; if (m != 0 && (m < 0) != (y < 0)) m += y; return m; }
            case "**":
                if (!isFloat && ToLong(b) >= 0)
                {
                    long result = 1, x = ToLong(a);
                    for (long i = ToLong(b); i > 0; i--) result = checked(result * x);
                    return result;
                }
                return Math.Pow(ToDouble(a), ToDouble(b));
        }
        throw Unsupported(op, a, b);
    }

    static string Repeat(string s, long n)
    {
        var sb = new StringBuilder();
        for (long i = 0; i < n; i++) sb.Append(s);
        return sb.ToString();
    }

    static List<object?> RepeatList(List<object?> l, long n)
    {
        var r = new List<object?>();
        for (long i = 0; i < n; i++) r.AddRange(l);
        return r;
    }

    public static object? Negate(object? v, bool minus)
    {
        if (v is Undefined u) throw new JinjaRuntimeError(u.Hint);
        if (!IsNumber(v)) throw new JinjaRuntimeError($"bad operand type for unary {(minus ? '-' : '+')}: '{TypeName(v)}'");
        if (v is double d) return minus ? -d : d;
        return minus ? -ToLong(v) : ToLong(v);
    }

    static void ThrowIfUndefined(object? a, object? b)
    {
        if (a is Undefined u) throw new JinjaRuntimeError(u.Hint);
        if (b is Undefined v) throw new JinjaRuntimeError(v.Hint);
    }

    static JinjaRuntimeError Unsupported(string op, object? a, object? b) =>
        new($"unsupported operand type(s) for {op}: '{TypeName(a)}' and '{TypeName(b)}'");
}
