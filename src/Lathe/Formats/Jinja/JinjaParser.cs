namespace Lathe.Formats.Jinja;

/// <summary>Builds the syntax tree from <see cref="JinjaLexer"/>'s tokens with jinja2's grammar and precedence:
/// conditional expression → or → and → not → comparisons (chained, in, not in) → + - → ~ → * / // % → ** → unary
/// minus/plus → primary with attribute, item and call postfixes, then filters (|) and tests (is). Tags jinja2 knows
/// but chat templates do not use (extends, block, include, import, autoescape, do, trans) are errors naming the tag.</summary>
internal sealed class JinjaParser
{
    readonly List<Token> _t;
    int _i;

    JinjaParser(List<Token> tokens) { _t = tokens; }

    public static List<Node> Parse(string source)
    {
        var p = new JinjaParser(JinjaLexer.Tokenize(source));
        var body = p.Subparse([]);
        if (p.Current.Kind != TokenKind.End) throw p.Fail($"unexpected '{p.Current.Text}'");
        return body;
    }

    Token Current => _t[_i];
    Token Peek(int k = 1) => _t[Math.Min(_i + k, _t.Count - 1)];
    Token Next() => _t[_i++];

    JinjaException Fail(string what) => JinjaException.At(Current.Line, what);

    bool IsOp(string op) => Current.Kind == TokenKind.Operator && Current.Text == op;
    bool IsName(string name) => Current.Kind == TokenKind.Name && Current.Text == name;

    bool SkipOp(string op)
    {
        if (!IsOp(op)) return false;
        _i++;
        return true;
    }

    bool SkipName(string name)
    {
        if (!IsName(name)) return false;
        _i++;
        return true;
    }

    void ExpectOp(string op)
    {
        if (!SkipOp(op)) throw Fail($"expected '{op}', got {Current}");
    }

    string ExpectName()
    {
        if (Current.Kind != TokenKind.Name) throw Fail($"expected a name, got {Current}");
        return Next().Text;
    }

    void ExpectBlockEnd()
    {
        if (Current.Kind != TokenKind.BlockEnd) throw Fail($"expected '%}}', got {Current}");
        _i++;
    }

    // ---- statements ----

    List<Node> Subparse(string[] endTags)
    {
        var body = new List<Node>();
        while (true)
        {
            var tok = Current;
            switch (tok.Kind)
            {
                case TokenKind.End: return body;
                case TokenKind.Data: body.Add(new TextNode(tok.Line, tok.Text)); _i++; break;
                case TokenKind.VariableBegin:
                    _i++;
                    body.Add(new OutputNode(tok.Line, ParseTuple(withCondition: true)));
                    if (Current.Kind != TokenKind.VariableEnd) throw Fail($"expected '}}}}', got {Current}");
                    _i++;
                    break;
                case TokenKind.BlockBegin:
                    _i++;
                    if (Current.Kind == TokenKind.Name && Array.IndexOf(endTags, Current.Text) >= 0) return body;
                    body.Add(ParseStatement());
                    break;
                default: throw Fail($"unexpected {tok}");
            }
        }
    }

    // The body of a block up to one of endTags; the end tag's name is left current.
    List<Node> Body(string tag, params string[] endTags)
    {
        int line = Current.Line;
        var body = Subparse(endTags);
        if (Current.Kind == TokenKind.End)
            throw JinjaException.At(line, $"'{{% {tag} %}}' is never closed (expected {string.Join(" or ", endTags.Select(e => $"'{{% {e} %}}'"))})");
        return body;
    }

    void EndTag(string name)
    {
        if (!SkipName(name)) throw Fail($"expected '{name}', got {Current}");
        ExpectBlockEnd();
    }

    Node ParseStatement()
    {
        var tok = Current;
        if (tok.Kind != TokenKind.Name) throw Fail($"expected a tag name after '{{%', got {tok}");
        int line = tok.Line;
        _i++;
        switch (tok.Text)
        {
            case "if": return ParseIf(line);
            case "for": return ParseFor(line);
            case "set": return ParseSet(line);
            case "macro": return ParseMacro(line);
            case "call": return ParseCallBlock(line);
            case "filter":
            {
                var filter = ParseFilterChain(null, line);
                ExpectBlockEnd();
                var body = Body("filter", "endfilter");
                EndTag("endfilter");
                return new FilterBlockNode(line, filter, body);
            }
            case "with": return ParseWith(line);
            case "generation":
            {
                ExpectBlockEnd();
                var body = Body("generation", "endgeneration");
                EndTag("endgeneration");
                return new GenerationNode(line, body);
            }
            case "break": ExpectBlockEnd(); return new BreakNode(line);
            case "continue": ExpectBlockEnd(); return new ContinueNode(line);
            case "extends" or "block" or "include" or "import" or "from" or "autoescape" or "do" or "trans":
                throw JinjaException.At(line, $"tag '{{% {tok.Text} %}}' is not supported in chat templates");
            default:
                if (tok.Text.StartsWith("end", StringComparison.Ordinal) || tok.Text is "else" or "elif")
                    throw JinjaException.At(line, $"unexpected '{{% {tok.Text} %}}' (no open block it closes)");
                throw JinjaException.At(line, $"unknown tag '{{% {tok.Text} %}}'");
        }
    }

    IfNode ParseIf(int line)
    {
        var test = ParseTuple(withCondition: true);
        ExpectBlockEnd();
        var body = Body("if", "elif", "else", "endif");
        var elseBody = new List<Node>();
        if (IsName("elif"))
        {
            int elifLine = Current.Line;
            _i++;
            elseBody.Add(ParseIf(elifLine));   // consumes through endif
            return new IfNode(line, test, body, elseBody);
        }
        if (SkipName("else"))
        {
            ExpectBlockEnd();
            elseBody = Body("if", "endif");
        }
        EndTag("endif");
        return new IfNode(line, test, body, elseBody);
    }

    ForNode ParseFor(int line)
    {
        var target = ParseAssignTarget(allowNamespace: false, "in");
        if (!SkipName("in")) throw Fail($"expected 'in' in '{{% for %}}', got {Current}");
        var iterable = ParseTuple(withCondition: false, endNames: ["recursive"]);
        Expr? filter = null;
        if (SkipName("if")) filter = ParseExpression();
        if (IsName("recursive")) throw Fail("recursive for loops are not supported");
        ExpectBlockEnd();
        var body = Body("for", "endfor", "else");
        var elseBody = new List<Node>();
        if (SkipName("else"))
        {
            ExpectBlockEnd();
            elseBody = Body("for", "endfor");
        }
        EndTag("endfor");
        return new ForNode(line, target, iterable, filter, body, elseBody);
    }

    Node ParseSet(int line)
    {
        var target = ParseAssignTarget(allowNamespace: true);
        if (SkipOp("="))
        {
            var value = ParseTuple(withCondition: true);
            ExpectBlockEnd();
            return new SetNode(line, target, value);
        }
        FilterExpr? filter = SkipOp("|") ? ParseFilterChain(null, line) : null;
        ExpectBlockEnd();
        var body = Body("set", "endset");
        EndTag("endset");
        return new SetBlockNode(line, target, filter, body);
    }

    MacroNode ParseMacro(int line)
    {
        string name = ExpectName();
        var parameters = ParseSignature();
        ExpectBlockEnd();
        var body = Body("macro", "endmacro");
        EndTag("endmacro");
        return new MacroNode(line, name, parameters, body);
    }

    List<MacroParameter> ParseSignature()
    {
        var parameters = new List<MacroParameter>();
        ExpectOp("(");
        while (!IsOp(")"))
        {
            if (parameters.Count > 0) ExpectOp(",");
            if (IsOp(")")) break;
            string name = ExpectName();
            Expr? def = SkipOp("=") ? ParseExpression() : null;
            if (def is null && parameters.Count > 0 && parameters[^1].Default is not null)
                throw Fail($"parameter '{name}' without a default follows one with a default");
            parameters.Add(new(name, def));
        }
        _i++;
        return parameters;
    }

    CallBlockNode ParseCallBlock(int line)
    {
        var callerParameters = IsOp("(") ? ParseSignature() : [];
        var call = ParseExpression();
        if (call is not CallExpr callExpr) throw JinjaException.At(line, "'{% call %}' needs a macro call");
        ExpectBlockEnd();
        var body = Body("call", "endcall");
        EndTag("endcall");
        return new CallBlockNode(line, callExpr, callerParameters, body);
    }

    WithNode ParseWith(int line)
    {
        var assignments = new List<(Expr, Expr)>();
        while (Current.Kind != TokenKind.BlockEnd)
        {
            if (assignments.Count > 0) ExpectOp(",");
            var target = ParseAssignTarget(allowNamespace: false);
            ExpectOp("=");
            assignments.Add((target, ParseExpression()));
        }
        ExpectBlockEnd();
        var body = Body("with", "endwith");
        EndTag("endwith");
        return new WithNode(line, assignments, body);
    }

    // A name, "namespace.attribute" (set only) or a tuple of names ("k, v" or "(k, v)").
    Expr ParseAssignTarget(bool allowNamespace, params string[] endNames)
    {
        int line = Current.Line;
        if (allowNamespace && Current.Kind == TokenKind.Name && Peek().Kind == TokenKind.Operator && Peek().Text == ".")
        {
            string ns = Next().Text;
            _i++;
            return new AttributeExpr(line, new NameExpr(line, ns), ExpectName());
        }
        var target = ParseTuple(withCondition: false, endNames: endNames, simplified: true);
        if (!IsAssignable(target)) throw JinjaException.At(line, "cannot assign to this expression");
        return target;
    }

    static bool IsAssignable(Expr e) => e is NameExpr || (e is TupleExpr t && t.Items.All(IsAssignable));

    // ---- expressions ----

    bool IsTupleEnd(string[]? endNames) =>
        Current.Kind is TokenKind.VariableEnd or TokenKind.BlockEnd or TokenKind.End || IsOp(")")
        || (endNames is not null && Current.Kind == TokenKind.Name && Array.IndexOf(endNames, Current.Text) >= 0);

    // Comma-separated expressions: one expression, or a tuple when a comma appears.
    Expr ParseTuple(bool withCondition, string[]? endNames = null, bool simplified = false, bool explicitParentheses = false)
    {
        int line = Current.Line;
        var items = new List<Expr>();
        bool isTuple = false;
        while (true)
        {
            if (items.Count > 0) ExpectOp(",");
            if (IsTupleEnd(endNames)) break;
            items.Add(simplified ? ParsePrimary() : withCondition ? ParseExpression() : ParseOr());
            if (IsOp(",")) isTuple = true;
            else break;
        }
        if (!isTuple)
        {
            if (items.Count == 1) return items[0];
            if (!explicitParentheses) throw Fail($"expected an expression, got {Current}");
        }
        return new TupleExpr(line, items);
    }

    Expr ParseExpression()
    {
        var expr = ParseOr();
        while (IsName("if"))
        {
            int line = Current.Line;
            _i++;
            var test = ParseOr();
            Expr? otherwise = SkipName("else") ? ParseExpression() : null;
            expr = new ConditionalExpr(line, test, expr, otherwise);
        }
        return expr;
    }

    Expr ParseOr()
    {
        var left = ParseAnd();
        while (IsName("or")) { int line = Next().Line; left = new BinaryExpr(line, "or", left, ParseAnd()); }
        return left;
    }

    Expr ParseAnd()
    {
        var left = ParseNot();
        while (IsName("and")) { int line = Next().Line; left = new BinaryExpr(line, "and", left, ParseNot()); }
        return left;
    }

    Expr ParseNot()
    {
        if (IsName("not")) { int line = Next().Line; return new UnaryExpr(line, "not", ParseNot()); }
        return ParseCompare();
    }

    Expr ParseCompare()
    {
        int line = Current.Line;
        var first = ParseMath1();
        var rest = new List<(string, Expr)>();
        while (true)
        {
            if (Current.Kind == TokenKind.Operator && Current.Text is "==" or "!=" or "<" or "<=" or ">" or ">=")
            {
                string op = Next().Text;
                rest.Add((op, ParseMath1()));
            }
            else if (SkipName("in")) rest.Add(("in", ParseMath1()));
            else if (IsName("not") && Peek().Kind == TokenKind.Name && Peek().Text == "in")
            {
                _i += 2;
                rest.Add(("not in", ParseMath1()));
            }
            else break;
        }
        return rest.Count == 0 ? first : new CompareExpr(line, first, rest);
    }

    Expr ParseMath1()
    {
        var left = ParseConcat();
        while (Current.Kind == TokenKind.Operator && Current.Text is "+" or "-")
        {
            var op = Next();
            left = new BinaryExpr(op.Line, op.Text, left, ParseConcat());
        }
        return left;
    }

    Expr ParseConcat()
    {
        int line = Current.Line;
        var parts = new List<Expr> { ParseMath2() };
        while (SkipOp("~")) parts.Add(ParseMath2());
        return parts.Count == 1 ? parts[0] : new ConcatExpr(line, parts);
    }

    Expr ParseMath2()
    {
        var left = ParsePow();
        while (Current.Kind == TokenKind.Operator && Current.Text is "*" or "/" or "//" or "%")
        {
            var op = Next();
            left = new BinaryExpr(op.Line, op.Text, left, ParsePow());
        }
        return left;
    }

    Expr ParsePow()
    {
        var left = ParseUnary(withFilter: true);
        while (IsOp("**"))
        {
            int line = Next().Line;
            left = new BinaryExpr(line, "**", left, ParseUnary(withFilter: true));
        }
        return left;
    }

    Expr ParseUnary(bool withFilter)
    {
        int line = Current.Line;
        Expr node;
        if (SkipOp("-")) node = new UnaryExpr(line, "-", ParseUnary(withFilter: false));
        else if (SkipOp("+")) node = new UnaryExpr(line, "+", ParseUnary(withFilter: false));
        else node = ParsePrimary();
        node = ParsePostfix(node);
        if (withFilter) node = ParseFilterAndTests(node);
        return node;
    }

    Expr ParsePrimary()
    {
        var tok = Current;
        switch (tok.Kind)
        {
            case TokenKind.Name:
                _i++;
                return tok.Text switch
                {
                    "true" or "True" => new ConstExpr(tok.Line, true),
                    "false" or "False" => new ConstExpr(tok.Line, false),
                    "none" or "None" => new ConstExpr(tok.Line, null),
                    _ => new NameExpr(tok.Line, tok.Text),
                };
            case TokenKind.String:
            {
                _i++;
                string s = (string)tok.Value!;
                while (Current.Kind == TokenKind.String) s += (string)Next().Value!;   // adjacent literals join
                return new ConstExpr(tok.Line, s);
            }
            case TokenKind.Integer or TokenKind.Float:
                _i++;
                return new ConstExpr(tok.Line, tok.Value);
            case TokenKind.Operator when tok.Text == "(":
            {
                _i++;
                var e = ParseTuple(withCondition: true, explicitParentheses: true);
                ExpectOp(")");
                return e;
            }
            case TokenKind.Operator when tok.Text == "[":
            {
                _i++;
                var items = new List<Expr>();
                while (!IsOp("]"))
                {
                    if (items.Count > 0) ExpectOp(",");
                    if (IsOp("]")) break;
                    items.Add(ParseExpression());
                }
                _i++;
                return new ListExpr(tok.Line, items);
            }
            case TokenKind.Operator when tok.Text == "{":
            {
                _i++;
                var items = new List<(Expr, Expr)>();
                while (!IsOp("}"))
                {
                    if (items.Count > 0) ExpectOp(",");
                    if (IsOp("}")) break;
                    var key = ParseExpression();
                    ExpectOp(":");
                    items.Add((key, ParseExpression()));
                }
                _i++;
                return new DictExpr(tok.Line, items);
            }
            default: throw Fail($"unexpected {tok}");
        }
    }

    Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            if (IsOp(".") || IsOp("[")) node = ParseSubscript(node);
            else if (IsOp("(")) node = new CallExpr(Current.Line, node, ParseCallArguments());
            else return node;
        }
    }

    Expr ParseFilterAndTests(Expr node)
    {
        while (true)
        {
            if (IsOp("|")) node = ParseFilterChain(node, Current.Line);
            else if (IsName("is")) node = ParseTest(node);
            else if (IsOp("(")) node = new CallExpr(Current.Line, node, ParseCallArguments());
            else return node;
        }
    }

    Expr ParseSubscript(Expr node)
    {
        var tok = Next();
        if (tok.Text == ".")
        {
            var attr = Next();
            if (attr.Kind == TokenKind.Name) return new AttributeExpr(tok.Line, node, attr.Text);
            if (attr.Kind == TokenKind.Integer) return new ItemExpr(tok.Line, node, new ConstExpr(attr.Line, attr.Value));
            throw JinjaException.At(attr.Line, $"expected an attribute name after '.', got {attr}");
        }
        var keys = new List<Expr>();
        while (!IsOp("]"))
        {
            if (keys.Count > 0) ExpectOp(",");
            keys.Add(ParseSubscribed());
        }
        _i++;
        return new ItemExpr(tok.Line, node, keys.Count == 1 ? keys[0] : new TupleExpr(tok.Line, keys));
    }

    Expr ParseSubscribed()
    {
        int line = Current.Line;
        Expr? start = null;
        if (!IsOp(":"))
        {
            start = ParseExpression();
            if (!IsOp(":")) return start;
        }
        _i++;   // ':'
        Expr? stop = IsOp("]") || IsOp(",") || IsOp(":") ? null : ParseExpression();
        Expr? step = null;
        if (SkipOp(":") && !IsOp("]") && !IsOp(",")) step = ParseExpression();
        return new SliceExpr(line, start, stop, step);
    }

    Arguments ParseCallArguments()
    {
        ExpectOp("(");
        var positional = new List<Expr>();
        var named = new List<(string, Expr)>();
        Expr? star = null, doubleStar = null;
        bool first = true;
        while (!IsOp(")"))
        {
            if (!first) ExpectOp(",");
            first = false;
            if (IsOp(")")) break;
            if (SkipOp("*")) star = ParseExpression();
            else if (SkipOp("**")) doubleStar = ParseExpression();
            else if (Current.Kind == TokenKind.Name && Peek().Kind == TokenKind.Operator && Peek().Text == "=")
            {
                string name = Next().Text;
                _i++;
                named.Add((name, ParseExpression()));
            }
            else
            {
                if (named.Count > 0) throw Fail("positional argument after a keyword argument");
                positional.Add(ParseExpression());
            }
        }
        _i++;
        return new Arguments(positional, named, star, doubleStar);
    }

    string DottedName()
    {
        string name = ExpectName();
        while (IsOp(".") && Peek().Kind == TokenKind.Name) { _i++; name += "." + Next().Text; }
        return name;
    }

    // "| f(args) | g …"; target null for filter blocks, where the first filter reads the body.
    FilterExpr ParseFilterChain(Expr? target, int line)
    {
        FilterExpr? node = null;
        bool first = target is null;
        while (first || IsOp("|"))
        {
            if (!first) _i++;
            first = false;
            string name = DottedName();
            var args = IsOp("(") ? ParseCallArguments() : Arguments.None;
            node = new FilterExpr(line, (Expr?)node ?? target, name, args);
        }
        return node!;
    }

    Expr ParseTest(Expr node)
    {
        int line = Next().Line;   // 'is'
        bool negated = SkipName("not");
        string name = DottedName();
        Arguments args = Arguments.None;
        if (IsOp("(")) args = ParseCallArguments();
        else if ((Current.Kind is TokenKind.Name or TokenKind.String or TokenKind.Integer or TokenKind.Float
                  || IsOp("(") || IsOp("[") || IsOp("{"))
                 && !(Current.Kind == TokenKind.Name && Current.Text is "else" or "or" or "and"))
        {
            if (IsName("is")) throw Fail("tests cannot be chained with 'is'");
            args = new Arguments([ParsePostfix(ParsePrimary())], [], null, null);
        }
        return new TestExpr(line, node, name, args, negated);
    }
}
