namespace Lathe.Formats.Jinja;

// The syntax tree of a template: expressions evaluate to values, nodes write output. Every element keeps its
// template line for error messages.

internal abstract record Expr(int Line);
internal sealed record ConstExpr(int Line, object? Value) : Expr(Line);
internal sealed record NameExpr(int Line, string Name) : Expr(Line);
internal sealed record ListExpr(int Line, List<Expr> Items) : Expr(Line);
internal sealed record TupleExpr(int Line, List<Expr> Items) : Expr(Line);
internal sealed record DictExpr(int Line, List<(Expr Key, Expr Value)> Items) : Expr(Line);
internal sealed record AttributeExpr(int Line, Expr Target, string Name) : Expr(Line);
internal sealed record ItemExpr(int Line, Expr Target, Expr Key) : Expr(Line);
internal sealed record SliceExpr(int Line, Expr? Start, Expr? Stop, Expr? Step) : Expr(Line);
internal sealed record Arguments(List<Expr> Positional, List<(string Name, Expr Value)> Named, Expr? Star, Expr? DoubleStar)
{
    public static readonly Arguments None = new([], [], null, null);
}
internal sealed record CallExpr(int Line, Expr Target, Arguments Args) : Expr(Line);
/// <summary>A filter applied to <paramref name="Target"/>; Target is null in a {% filter %} block (the body).</summary>
internal sealed record FilterExpr(int Line, Expr? Target, string Name, Arguments Args) : Expr(Line);
internal sealed record TestExpr(int Line, Expr Target, string Name, Arguments Args, bool Negated) : Expr(Line);
internal sealed record UnaryExpr(int Line, string Op, Expr Operand) : Expr(Line);
internal sealed record BinaryExpr(int Line, string Op, Expr Left, Expr Right) : Expr(Line);
internal sealed record CompareExpr(int Line, Expr First, List<(string Op, Expr Operand)> Rest) : Expr(Line);
internal sealed record ConcatExpr(int Line, List<Expr> Parts) : Expr(Line);
internal sealed record ConditionalExpr(int Line, Expr Test, Expr Then, Expr? Else) : Expr(Line);

internal abstract record Node(int Line);
internal sealed record TextNode(int Line, string Text) : Node(Line);
internal sealed record OutputNode(int Line, Expr Value) : Node(Line);
internal sealed record IfNode(int Line, Expr Test, List<Node> Body, List<Node> Else) : Node(Line);
/// <summary>Target is a name or a tuple of names; Filter is the "for x in xs if cond" condition.</summary>
internal sealed record ForNode(int Line, Expr Target, Expr Iterable, Expr? Filter, List<Node> Body, List<Node> Else) : Node(Line);
/// <summary>Target is a name, a tuple of names or "namespace.attribute".</summary>
internal sealed record SetNode(int Line, Expr Target, Expr Value) : Node(Line);
internal sealed record SetBlockNode(int Line, Expr Target, FilterExpr? Filter, List<Node> Body) : Node(Line);
internal sealed record MacroParameter(string Name, Expr? Default);
internal sealed record MacroNode(int Line, string Name, List<MacroParameter> Parameters, List<Node> Body) : Node(Line);
internal sealed record CallBlockNode(int Line, CallExpr Call, List<MacroParameter> CallerParameters, List<Node> Body) : Node(Line);
internal sealed record FilterBlockNode(int Line, FilterExpr Filter, List<Node> Body) : Node(Line);
internal sealed record WithNode(int Line, List<(Expr Target, Expr Value)> Assignments, List<Node> Body) : Node(Line);
/// <summary>Hugging Face's {% generation %} block (marks assistant text for return_assistant_tokens_mask); it
/// renders its body unchanged.</summary>
internal sealed record GenerationNode(int Line, List<Node> Body) : Node(Line);
internal sealed record BreakNode(int Line) : Node(Line);
internal sealed record ContinueNode(int Line) : Node(Line);
