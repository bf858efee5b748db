using System.Globalization;

namespace Lathe.Knowledge;

/// <summary>What the object of a fact is: another entity of the graph, or a typed literal.</summary>
public enum TermKind
{
    /// <summary>An entity id (<see cref="KgEntity.Id"/>), for example <c>country/FRA</c>.</summary>
    Entity,
    /// <summary>Free text (a definition, a symbol).</summary>
    String,
    /// <summary>A number, kept as its invariant-culture text so it round-trips exactly (<c>551695</c>, <c>55.845</c>).</summary>
    Number,
    /// <summary>A date or year in ISO 8601 (<c>1807</c>, <c>1960-08-16</c>).</summary>
    Date,
}

/// <summary>The object of a triple: an entity id or a typed literal. Value equality, so patterns and sets compare
/// terms directly.</summary>
public readonly record struct Term(TermKind Kind, string Value)
{
    public static Term Entity(string id) => new(TermKind.Entity, id);
    public static Term Text(string value) => new(TermKind.String, value);
    public static Term Date(string iso) => new(TermKind.Date, iso);

    /// <summary>A number in the shortest text that round-trips (integers without a decimal point).</summary>
    public static Term Number(double value) => new(TermKind.Number, value.ToString("R", CultureInfo.InvariantCulture));

    public bool IsEntity => Kind == TermKind.Entity;

    public override string ToString() => Kind == TermKind.Entity ? Value : $"\"{Value}\"^{Kind}";
}
