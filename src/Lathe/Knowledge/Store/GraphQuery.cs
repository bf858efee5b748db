using System.Globalization;
using System.Text;

namespace Lathe.Knowledge.Store;

/// <summary>A conjunctive query of triple patterns, the text <c>lathe kg query</c> takes:
/// <code>?c capital ?city . ?c borders [France]</code>
/// Patterns are <c>S R O</c> separated by a lone <c>.</c>. A term is a variable (<c>?name</c>), an entity id
/// (<c>country/FRA</c>), an entity name in brackets (<c>[Côte d'Ivoire]</c>, resolved through
/// <see cref="IKnowledgeGraph.EntitiesNamed"/>; unknown or ambiguous is an error), or, as an object, a quoted string
/// (<c>"1807"</c>, <c>\"</c> and <c>\\</c> escaped) or a number. The relation is a relation id or a variable. A literal
/// takes its relation's kind (<c>?e discovered "1807"</c> is a date when <c>discovered</c> holds dates); under a
/// relation variable a quoted literal matches strings and dates, a number numbers.
/// Patterns join left to right: each runs through <see cref="IKnowledgeGraph.Match"/> with the variables bound so
/// far (so the store's indexes serve it), depth first, so rows come in a fixed order and a limit stops early.</summary>
public sealed class GraphQuery
{
    /// <summary>A position of a pattern: a variable, or a constant term (for the relation position, an entity-kind
    /// term holding the relation id); <see cref="AnyLiteral"/> marks a quoted literal under a relation variable.</summary>
    internal readonly record struct Slot(string? Variable, Term Constant, bool AnyLiteral = false);

    internal readonly record struct Pattern(Slot Subject, Slot Relation, Slot Object);

    readonly List<Pattern> _patterns;
    readonly List<string> _variables;

    /// <summary>The variables in order of first appearance (the result's columns).</summary>
    public IReadOnlyList<string> Variables => _variables;

    /// <summary>Variables that stand for relations (their values are relation ids).</summary>
    public IReadOnlySet<string> RelationVariables { get; }

    GraphQuery(List<Pattern> patterns, List<string> variables, HashSet<string> relationVariables)
    {
        _patterns = patterns;
        _variables = variables;
        RelationVariables = relationVariables;
    }

    /// <summary>Parses <paramref name="text"/> against <paramref name="graph"/> (relations and names are resolved
    /// now). Throws <see cref="ArgumentException"/> with a one-line reason: an unknown relation or entity, an ambiguous
    /// name, a malformed pattern.</summary>
    public static GraphQuery Parse(string text, IKnowledgeGraph graph)
    {
        var groups = new List<List<Token>> { new() };
        foreach (var token in Tokenize(text))
        {
            if (token.Kind == TokenKind.Separator) groups.Add([]);
            else groups[^1].Add(token);
        }
        if (groups[^1].Count == 0 && groups.Count > 1) groups.RemoveAt(groups.Count - 1);   // a final " ."
        if (groups.Count == 1 && groups[0].Count == 0) throw new ArgumentException("the query is empty (patterns are S R O separated by ' . ')");
        var patterns = new List<Pattern>();
        var variables = new List<string>();
        var relationVariables = new HashSet<string>(StringComparer.Ordinal);
        var nodeVariables = new HashSet<string>(StringComparer.Ordinal);
        for (int p = 0; p < groups.Count; p++)
        {
            var g = groups[p];
            if (g.Count != 3)
                throw new ArgumentException($"pattern {p + 1} has {g.Count} terms ({string.Join(" ", g.Select(t => t.Text))}); each pattern is S R O, patterns separated by ' . '");
            foreach (var t in g)
                if (t.Kind == TokenKind.Variable && !variables.Contains(t.Text)) variables.Add(t.Text);
            var relation = RelationSlot(g[1], graph);
            var relationDef = relation.Variable is null ? graph.FindRelation(relation.Constant.Value) : null;
            var subject = NodeSlot(g[0], graph, "subject");
            if (subject.Variable is null && !subject.Constant.IsEntity) throw new ArgumentException($"pattern {p + 1}: a subject is an entity, not the literal {g[0].Text}");
            var obj = ObjectSlot(g[2], graph, relationDef);
            if (relation.Variable is { } rv) relationVariables.Add(rv);
            if (subject.Variable is { } sv) nodeVariables.Add(sv);
            if (obj.Variable is { } ov) nodeVariables.Add(ov);
            patterns.Add(new Pattern(subject, relation, obj));
        }
        if (relationVariables.FirstOrDefault(nodeVariables.Contains) is { } both)
            throw new ArgumentException($"?{both} stands for a relation in one pattern and an entity or value in another");
        return new GraphQuery(patterns, variables, relationVariables);
    }

    static Slot RelationSlot(Token token, IKnowledgeGraph graph) => token.Kind switch
    {
        TokenKind.Variable => new Slot(token.Text, default),
        TokenKind.Bare when graph.FindRelation(token.Text) is not null => new Slot(null, Term.Entity(token.Text)),
        TokenKind.Bare => throw new ArgumentException($"unknown relation '{token.Text}' (known: {string.Join(", ", graph.Relations().Select(r => r.Id))})"),
        _ => throw new ArgumentException($"a relation is an id or a ?variable, not {token.Text}"),
    };

    static Slot NodeSlot(Token token, IKnowledgeGraph graph, string position)
    {
        switch (token.Kind)
        {
            case TokenKind.Variable: return new Slot(token.Text, default);
            case TokenKind.Name: return new Slot(null, Term.Entity(ResolveName(token.Text, graph).Id));
            case TokenKind.Bare when position == "subject" || !IsNumber(token.Text):
                if (graph.FindEntity(token.Text) is null) throw new ArgumentException($"unknown entity '{token.Text}' (an id like country/FRA, or a name in brackets like [France])");
                return new Slot(null, Term.Entity(token.Text));
            default: return new Slot(null, Term.Text(token.Text));
        }
    }

    static Slot ObjectSlot(Token token, IKnowledgeGraph graph, KgRelation? relation)
    {
        bool literal = token.Kind == TokenKind.Quoted || (token.Kind == TokenKind.Bare && IsNumber(token.Text));
        if (!literal) return NodeSlot(token, graph, "object");
        if (relation is null)
            return token.Kind == TokenKind.Quoted
                ? new Slot(null, Term.Text(token.Text), AnyLiteral: true)
                : new Slot(null, Number(token.Text));
        return relation.ObjectKind switch
        {
            TermKind.Number when IsNumber(token.Text) => new Slot(null, Number(token.Text)),
            TermKind.Number => throw new ArgumentException($"relation '{relation.Id}' holds numbers, not \"{token.Text}\""),
            TermKind.Date => new Slot(null, Term.Date(token.Text)),
            TermKind.String => new Slot(null, Term.Text(token.Text)),
            _ => throw new ArgumentException($"relation '{relation.Id}' holds entities: write an id or a [Name], not {token.Text}"),
        };
    }

    /// <summary>The one entity called <paramref name="name"/>; none or several is an <see cref="ArgumentException"/>.</summary>
    public static KgEntity ResolveName(string name, IKnowledgeGraph graph)
    {
        var found = graph.EntitiesNamed(name);
        if (found.Count == 0) throw new ArgumentException($"no entity is named '{name}'");
        if (found.Count > 1)
            throw new ArgumentException($"[{name}] is ambiguous: {string.Join(", ", found.Take(8).Select(e => $"{e.Id} ({e.Name}, {e.Type})"))}"
                                        + (found.Count > 8 ? $" and {found.Count - 8} more" : "") + "; use an id");
        return found[0];
    }

    static bool IsNumber(string text) =>
        text.Length > 0 && (char.IsAsciiDigit(text[0]) || (text.Length > 1 && text[0] is ('-' or '+' or '.') && char.IsAsciiDigit(text[1])))
        && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v);

    static Term Number(string text) => Term.Number(double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture));

    /// <summary>Runs the query: rows of values, one per variable in <see cref="Variables"/>, in the nested-loop order
    /// of the patterns; at most <paramref name="limit"/> rows.</summary>
    public QueryResult Run(IKnowledgeGraph graph, int? limit = null)
    {
        if (limit is <= 0) throw new ArgumentException($"limit {limit} must be positive");
        var rows = new List<IReadOnlyList<Term>>();
        var values = new Term?[_variables.Count];
        Join(graph, 0, values, rows, limit ?? int.MaxValue);
        return new QueryResult(_variables, RelationVariables, rows);
    }

    void Join(IKnowledgeGraph graph, int index, Term?[] values, List<IReadOnlyList<Term>> rows, int limit)
    {
        if (index == _patterns.Count)
        {
            rows.Add(values.Select(v => v!.Value).ToArray());
            return;
        }
        var pattern = _patterns[index];
        Term? s = Bound(pattern.Subject, values), r = Bound(pattern.Relation, values), o = Bound(pattern.Object, values);
        if (s is { IsEntity: false }) return;   // a variable bound to a literal cannot be a subject
        IReadOnlyList<Triple> facts;
        if (pattern.Object.AnyLiteral && o is { } literal && pattern.Object.Variable is null)
        {
            var both = new List<Triple>(graph.Match(s?.Value, r?.Value, literal));
            both.AddRange(graph.Match(s?.Value, r?.Value, new Term(TermKind.Date, literal.Value)));
            both.Sort(KnowledgeStore.CompareTriples);
            facts = both;
        }
        else facts = graph.Match(s?.Value, r?.Value, o);
        foreach (var fact in facts)
        {
            var saved = (Term?[])values.Clone();
            if (Bind(pattern.Subject, Term.Entity(fact.Subject), values) && Bind(pattern.Relation, Term.Entity(fact.Relation), values)
                && Bind(pattern.Object, fact.Object, values))
                Join(graph, index + 1, values, rows, limit);
            Array.Copy(saved, values, values.Length);
            if (rows.Count >= limit) return;
        }
    }

    Term? Bound(Slot slot, Term?[] values) => slot.Variable is null ? slot.Constant : values[_variables.IndexOf(slot.Variable)];

    // Binds a variable (false when it is already bound to something else: "?x borders ?x" needs both the same).
    bool Bind(Slot slot, Term value, Term?[] values)
    {
        if (slot.Variable is null) return true;
        int i = _variables.IndexOf(slot.Variable);
        if (values[i] is { } bound) return bound == value;
        values[i] = value;
        return true;
    }

    enum TokenKind { Variable, Bare, Quoted, Name, Separator }

    readonly record struct Token(TokenKind Kind, string Text);

    static IEnumerable<Token> Tokenize(string text)
    {
        int i = 0;
        while (true)
        {
            while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
            if (i == text.Length) yield break;
            char c = text[i];
            if (c == '"')
            {
                var value = new StringBuilder();
                for (i++; ; i++)
                {
                    if (i == text.Length) throw new ArgumentException("a quoted string in the query is not closed");
                    if (text[i] == '\\' && i + 1 < text.Length && text[i + 1] is '"' or '\\') value.Append(text[++i]);
                    else if (text[i] == '"') { i++; break; }
                    else value.Append(text[i]);
                }
                yield return new Token(TokenKind.Quoted, value.ToString());
            }
            else if (c == '[')
            {
                int end = text.IndexOf(']', i);
                if (end < 0) throw new ArgumentException("a [name] in the query is not closed");
                string name = text[(i + 1)..end].Trim();
                if (name.Length == 0) throw new ArgumentException("an empty [name] in the query");
                i = end + 1;
                yield return new Token(TokenKind.Name, name);
            }
            else
            {
                int start = i;
                while (i < text.Length && !char.IsWhiteSpace(text[i])) i++;
                string word = text[start..i];
                if (word == ".") yield return new Token(TokenKind.Separator, word);
                else if (word[0] == '?')
                {
                    if (word.Length == 1 || word.AsSpan(1).ContainsAnyExcept(VariableChars))
                        throw new ArgumentException($"'{word}' is not a variable (?name, letters, digits and _)");
                    yield return new Token(TokenKind.Variable, word[1..]);
                }
                else yield return new Token(TokenKind.Bare, word);
            }
        }
    }

    static readonly System.Buffers.SearchValues<char> VariableChars =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
}

/// <summary>A query's answer: the variables (columns) and the rows of values. Values of
/// <see cref="RelationVariables"/> hold relation ids (as entity-kind terms).</summary>
public sealed record QueryResult(IReadOnlyList<string> Variables, IReadOnlySet<string> RelationVariables, IReadOnlyList<IReadOnlyList<Term>> Rows);
