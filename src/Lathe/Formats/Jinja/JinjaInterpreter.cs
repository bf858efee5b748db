using System.Text;

namespace Lathe.Formats.Jinja;

/// <summary>Walks the syntax tree and writes the output. Scopes follow jinja2: the template's top level is one
/// scope; every for-loop iteration, macro call and with block opens a child scope whose assignments do not leak out
/// (hence namespace()); if blocks open none. Names not found in any scope come from the globals, else Undefined.</summary>
internal sealed class JinjaInterpreter
{
    sealed class Scope(Scope? parent)
    {
        public readonly Scope? Parent = parent;
        public readonly Dictionary<string, object?> Vars = [];
        public int LoopDepth = parent?.LoopDepth ?? 0;

        public bool TryFind(string name, out object? value)
        {
            for (var s = this; s is not null; s = s.Parent)
                if (s.Vars.TryGetValue(name, out value)) return true;
            value = null;
            return false;
        }
    }

    enum Flow { Normal, Break, Continue }

    // Nested macro calls allowed before a runaway recursion is an error (Python's limit is ~1000 frames; each
    // macro call costs the interpreter a few).
    const int MaxMacroDepth = 250;
    int _macroDepth;

    readonly Dictionary<string, object?> _globals;
    int _line;

    public JinjaInterpreter(Dictionary<string, object?> globals)
    {
        _globals = globals;
    }

    public string Render(List<Node> body, IReadOnlyDictionary<string, object?> context)
    {
        var top = new Scope(null);
        foreach (var kv in context) top.Vars[kv.Key] = kv.Value;
        var sb = new StringBuilder();
        try
        {
            Execute(body, top, sb);
        }
        catch (JinjaRuntimeError e)
        {
            throw new JinjaException($"chat template line {_line}: {e.Message}") { TemplateLine = _line, RaisedByTemplate = e.RaisedByTemplate };
        }
        catch (Exception e) when (e is InvalidCastException or ArgumentException or FormatException or OverflowException
                                  or IndexOutOfRangeException or KeyNotFoundException or InvalidOperationException)
        {
            // A value of a type an operation does not take (Python's TypeError/ValueError): still one line, never a crash.
            throw new JinjaException($"chat template line {_line}: {e.Message}") { TemplateLine = _line };
        }
        return sb.ToString();
    }

    Flow Execute(List<Node> nodes, Scope scope, StringBuilder sb)
    {
        foreach (var node in nodes)
        {
            _line = node.Line;
            switch (node)
            {
                case TextNode t: sb.Append(t.Text); break;
                case OutputNode o: sb.Append(PyOps.Str(Eval(o.Value, scope))); break;
                case IfNode i:
                {
                    var flow = Execute(PyOps.Truthy(Eval(i.Test, scope)) ? i.Body : i.Else, scope, sb);
                    if (flow != Flow.Normal) return flow;
                    break;
                }
                case ForNode f: ExecuteFor(f, scope, sb); break;
                case SetNode s: Assign(s.Target, Eval(s.Value, scope), scope); break;
                case SetBlockNode s:
                {
                    string text = RenderBody(s.Body, new Scope(scope) { LoopDepth = scope.LoopDepth });
                    Assign(s.Target, s.Filter is null ? text : ApplyFilter(s.Filter, scope, text), scope);
                    break;
                }
                case MacroNode m: scope.Vars[m.Name] = MakeMacro(m.Name, m.Parameters, m.Body, scope); break;
                case CallBlockNode c:
                {
                    var caller = MakeMacro("caller", c.CallerParameters, c.Body, scope);
                    var args = EvalArguments(c.Call.Args, scope);
                    args.Named.Add(new("caller", caller));
                    sb.Append(PyOps.Str(Invoke(Eval(c.Call.Target, scope), args)));
                    break;
                }
                case FilterBlockNode fb: sb.Append(PyOps.Str(ApplyFilter(fb.Filter, scope, RenderBody(fb.Body, scope)))); break;
                case WithNode w:
                {
                    var inner = new Scope(scope);
                    foreach (var (target, value) in w.Assignments) Assign(target, Eval(value, scope), inner);
                    var flow = Execute(w.Body, inner, sb);
                    if (flow != Flow.Normal) return flow;
                    break;
                }
                case GenerationNode g:
                {
                    var flow = Execute(g.Body, scope, sb);
                    if (flow != Flow.Normal) return flow;
                    break;
                }
                case BreakNode:
                    if (scope.LoopDepth == 0) throw new JinjaRuntimeError("'break' outside a for loop");
                    return Flow.Break;
                case ContinueNode:
                    if (scope.LoopDepth == 0) throw new JinjaRuntimeError("'continue' outside a for loop");
                    return Flow.Continue;
                default: throw new JinjaRuntimeError($"cannot execute {node.GetType().Name}");
            }
        }
        return Flow.Normal;
    }

    string RenderBody(List<Node> body, Scope scope)
    {
        var sb = new StringBuilder();
        Execute(body, scope, sb);
        return sb.ToString();
    }

    void ExecuteFor(ForNode f, Scope scope, StringBuilder sb)
    {
        var items = PyOps.Iterate(Eval(f.Iterable, scope));
        if (f.Filter is not null)
        {
            var kept = new List<object?>();
            foreach (var item in items)
            {
                var test = new Scope(scope);
                Assign(f.Target, item, test);
                if (PyOps.Truthy(Eval(f.Filter, test))) kept.Add(item);
            }
            items = kept;
        }
        if (items.Count == 0)
        {
            Execute(f.Else, scope, sb);
            return;
        }
        var loop = new LoopInfo(items, scope.LoopDepth);
        for (int i = 0; i < items.Count; i++)
        {
            loop.Index0 = i;
            var iteration = new Scope(scope) { LoopDepth = scope.LoopDepth + 1 };
            Assign(f.Target, items[i], iteration);
            iteration.Vars["loop"] = loop;
            if (Execute(f.Body, iteration, sb) == Flow.Break) break;
        }
    }

    void Assign(Expr target, object? value, Scope scope)
    {
        switch (target)
        {
            case NameExpr n: scope.Vars[n.Name] = value; break;
            case AttributeExpr { Target: NameExpr ns } a:
                if (Lookup(ns.Name, scope) is not Namespace space)
                    throw new JinjaRuntimeError($"cannot assign attribute on non-namespace object '{ns.Name}'");
                space.Attributes[a.Name] = value;
                break;
            case TupleExpr t:
            {
                var items = PyOps.Iterate(value);
                if (items.Count != t.Items.Count)
                    throw new JinjaRuntimeError(items.Count > t.Items.Count
                        ? $"too many values to unpack (expected {t.Items.Count})"
                        : $"not enough values to unpack (expected {t.Items.Count}, got {items.Count})");
                for (int i = 0; i < items.Count; i++) Assign(t.Items[i], items[i], scope);
                break;
            }
            default: throw new JinjaRuntimeError("cannot assign to this expression");
        }
    }

    object? Lookup(string name, Scope scope)
    {
        if (scope.TryFind(name, out var v)) return v;
        if (_globals.TryGetValue(name, out v)) return v;
        return Undefined.Named(name);
    }

    PyCallable MakeMacro(string name, List<MacroParameter> parameters, List<Node> body, Scope closure) =>
        new(name, args =>
        {
            var frame = new Scope(closure) { LoopDepth = 0 };
            var varargs = new List<object?>();
            var kwargs = new PyDict();
            for (int i = 0; i < args.Positional.Count; i++)
            {
                if (i < parameters.Count) frame.Vars[parameters[i].Name] = args.Positional[i];
                else varargs.Add(args.Positional[i]);
            }
            foreach (var kv in args.Named)
            {
                if (kv.Key == "caller") { frame.Vars["caller"] = kv.Value; continue; }
                int index = parameters.FindIndex(p => p.Name == kv.Key);
                if (index < 0) { kwargs.Set(kv.Key, kv.Value); continue; }
                if (index < args.Positional.Count) throw new JinjaRuntimeError($"macro '{name}' got multiple values for argument '{kv.Key}'");
                frame.Vars[kv.Key] = kv.Value;
            }
            foreach (var p in parameters)
                if (!frame.Vars.ContainsKey(p.Name))
                    frame.Vars[p.Name] = p.Default is null ? Undefined.Named(p.Name) : Eval(p.Default, frame);
            frame.Vars["varargs"] = varargs.ToArray();
            frame.Vars["kwargs"] = kwargs;
            int line = _line;
            if (++_macroDepth > MaxMacroDepth) throw new JinjaRuntimeError("maximum recursion depth exceeded");
            try { return RenderBody(body, frame); }
            finally { _macroDepth--; _line = line; }
        });

    // ---- expressions ----

    object? Eval(Expr e, Scope scope)
    {
        switch (e)
        {
            case ConstExpr c: return c.Value;
            case NameExpr n: return Lookup(n.Name, scope);
            case ListExpr l:
            {
                var list = new List<object?>(l.Items.Count);
                foreach (var item in l.Items) list.Add(Eval(item, scope));
                return list;
            }
            case TupleExpr t:
            {
                var tuple = new object?[t.Items.Count];
                for (int i = 0; i < tuple.Length; i++) tuple[i] = Eval(t.Items[i], scope);
                return tuple;
            }
            case DictExpr d:
            {
                var dict = new PyDict();
                foreach (var (k, v) in d.Items)
                {
                    var key = Eval(k, scope);
                    if (key is null or List<object?> or PyDict or Undefined)
                        throw new JinjaRuntimeError($"unhashable or unsupported dict key of type '{PyOps.TypeName(key)}'");
                    dict.Set(key, Eval(v, scope));
                }
                return dict;
            }
            case AttributeExpr a: return PyMembers.GetAttribute(Eval(a.Target, scope), a.Name);
            case ItemExpr i:
            {
                var target = Eval(i.Target, scope);
                if (i.Key is SliceExpr s)
                    return PyMembers.Slice(target, EvalOptional(s.Start, scope), EvalOptional(s.Stop, scope), EvalOptional(s.Step, scope));
                return PyMembers.GetItem(target, Eval(i.Key, scope));
            }
            case CallExpr c: return Invoke(Eval(c.Target, scope), EvalArguments(c.Args, scope));
            case FilterExpr f: return ApplyFilter(f, scope, null);
            case TestExpr t:
            {
                var args = EvalArguments(t.Args, scope);
                bool result = JinjaTestFunctions.Run(t.Name, Eval(t.Target, scope), args);
                return t.Negated ? !result : result;
            }
            case UnaryExpr u:
            {
                var v = Eval(u.Operand, scope);
                return u.Op == "not" ? !PyOps.Truthy(v) : PyOps.Negate(v, u.Op == "-");
            }
            case BinaryExpr b:
            {
                var left = Eval(b.Left, scope);
                if (b.Op == "and") return PyOps.Truthy(left) ? Eval(b.Right, scope) : left;
                if (b.Op == "or") return PyOps.Truthy(left) ? left : Eval(b.Right, scope);
                return PyOps.Arithmetic(b.Op, left, Eval(b.Right, scope));
            }
            case CompareExpr c:
            {
                var left = Eval(c.First, scope);
                foreach (var (op, operand) in c.Rest)
                {
                    var right = Eval(operand, scope);
                    if (!CompareOnce(op, left, right)) return false;
                    left = right;
                }
                return true;
            }
            case ConcatExpr c:
            {
                var sb = new StringBuilder();
                foreach (var part in c.Parts) sb.Append(PyOps.Str(Eval(part, scope)));
                return sb.ToString();
            }
            case ConditionalExpr c:
                if (PyOps.Truthy(Eval(c.Test, scope))) return Eval(c.Then, scope);
                return c.Else is null ? new Undefined("the inline if-expression evaluated to false and no else section was defined") : Eval(c.Else, scope);
            default: throw new JinjaRuntimeError($"cannot evaluate {e.GetType().Name}");
        }
    }

    object? EvalOptional(Expr? e, Scope scope) => e is null ? null : Eval(e, scope);

    static bool CompareOnce(string op, object? a, object? b) => op switch
    {
        "==" => PyOps.AreEqual(a, b),
        "!=" => !PyOps.AreEqual(a, b),
        "<" => PyOps.Compare(a, b, op) < 0,
        "<=" => PyOps.Compare(a, b, op) <= 0,
        ">" => PyOps.Compare(a, b, op) > 0,
        ">=" => PyOps.Compare(a, b, op) >= 0,
        "in" => PyOps.Contains(b, a),
        "not in" => !PyOps.Contains(b, a),
        _ => throw new JinjaRuntimeError($"unknown comparison '{op}'"),
    };

    CallArguments EvalArguments(Arguments a, Scope scope)
    {
        var positional = new List<object?>(a.Positional.Count);
        foreach (var p in a.Positional) positional.Add(Eval(p, scope));
        if (a.Star is not null) positional.AddRange(PyOps.Iterate(Eval(a.Star, scope)));
        var named = new List<KeyValuePair<string, object?>>(a.Named.Count);
        foreach (var (name, value) in a.Named) named.Add(new(name, Eval(value, scope)));
        if (a.DoubleStar is not null)
        {
            if (Eval(a.DoubleStar, scope) is not PyDict d) throw new JinjaRuntimeError("argument after ** must be a mapping");
            foreach (var kv in d.Items()) named.Add(new(PyOps.Str(kv.Key), kv.Value));
        }
        return new CallArguments(positional, named);
    }

    public static object? Invoke(object? target, CallArguments args) => target switch
    {
        PyCallable c => c.Call(args),
        Undefined u => throw new JinjaRuntimeError(u.Hint),
        _ => throw new JinjaRuntimeError($"'{PyOps.TypeName(target)}' object is not callable"),
    };

    // A filter chain: the innermost filter reads `input` when its target is null (filter and set blocks).
    object? ApplyFilter(FilterExpr f, Scope scope, object? input)
    {
        var value = f.Target switch
        {
            null => input,
            FilterExpr inner => ApplyFilter(inner, scope, input),
            _ => Eval(f.Target, scope),
        };
        return JinjaFilters.Apply(f.Name, value, EvalArguments(f.Args, scope));
    }
}
