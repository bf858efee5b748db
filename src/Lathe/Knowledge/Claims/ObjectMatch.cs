using System.Globalization;
using System.Text.RegularExpressions;

namespace Lathe.Knowledge.Claims;

/// <summary>Whether a claimed object, as written, is a given object of the graph: an entity by its name or an alias
/// (by <see cref="NameKey"/>), a number numerically (thousands separators and units around it ignored; relative
/// tolerance <see cref="RelativeTolerance"/>, so "551,695", "551695" and "551,700 km²" all are 551695), strings and
/// dates by <see cref="NameKey"/>.</summary>
internal static partial class ObjectMatch
{
    /// <summary>How far a claimed number may be from the graph's, relative to the larger of the two: numbers in text
    /// are rounded ("about 67.4 million") and sources differ in the last digits.</summary>
    public const double RelativeTolerance = 0.005;

    [GeneratedRegex(@"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|[-+]?\d+(?:\.\d+)?")]
    private static partial Regex NumberPattern();

    public static bool Matches(IKnowledgeGraph g, Term graphObject, string claimed)
    {
        string key = NameKey.Of(claimed);
        switch (graphObject.Kind)
        {
            case TermKind.Entity:
                if (graphObject.Value == claimed.Trim()) return true;
                var entity = g.FindEntity(graphObject.Value);
                return entity is not null && (NameKey.Of(entity.Name) == key || entity.Aliases.Any(a => NameKey.Of(a) == key));
            case TermKind.Number:
                return ParseNumber(claimed) is { } value
                       && double.TryParse(graphObject.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var truth)
                       && Close(value, truth);
            default:
                return NameKey.Of(graphObject.Value) == key;
        }
    }

    /// <summary>The first number written in <paramref name="text"/> ("551,695 km²" → 551695), or null.</summary>
    public static double? ParseNumber(string text)
    {
        var m = NumberPattern().Match(text);
        if (!m.Success) return null;
        return double.TryParse(m.Value.Replace(",", ""), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null;
    }

    static bool Close(double a, double b) =>
        a == b || Math.Abs(a - b) <= RelativeTolerance * Math.Max(Math.Abs(a), Math.Abs(b));

    /// <summary>The term a claimed object reads as for a relation whose objects are <paramref name="kind"/>: the entity
    /// it names (one of <paramref name="preferred"/> when it names several), the number, the date or the string; null
    /// when it names no entity or holds no number.</summary>
    public static Term? Read(IKnowledgeGraph g, TermKind kind, string claimed, IEnumerable<Term> preferred)
    {
        string text = claimed.Trim();
        switch (kind)
        {
            case TermKind.Entity:
                var named = g.EntitiesNamed(text);
                if (named.Count == 0) return null;
                var pick = preferred.Where(t => t.IsEntity).Select(t => t.Value).Intersect(named.Select(e => e.Id)).ToList();
                if (pick.Count == 1) return Term.Entity(pick[0]);
                return named.Count == 1 ? Term.Entity(named[0].Id) : null;
            case TermKind.Number:
                return ParseNumber(text) is { } v ? Term.Number(v) : null;
            case TermKind.Date:
                return Term.Date(text);
            default:
                return Term.Text(text);
        }
    }
}
