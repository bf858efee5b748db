namespace Lathe.Knowledge;

/// <summary>A node of the graph: a stable id (<c>country/FRA</c>, <c>element/Fe</c>, <c>synset/n02084071</c>), the
/// name people use, other names it goes by, and its type (<c>country</c>, <c>city</c>, <c>element</c>, <c>synset</c>…).</summary>
public sealed record KgEntity(string Id, string Name, IReadOnlyList<string> Aliases, string Type);
