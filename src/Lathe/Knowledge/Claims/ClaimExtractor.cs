using System.Text;
using System.Text.RegularExpressions;
using Lathe.Knowledge.Grounding;

namespace Lathe.Knowledge.Claims;

/// <summary>Reads claims out of text by running the relations' statement templates backwards: each template becomes a
/// pattern with captures for <c>{s}</c> and <c>{o}</c> (literal words matched ignoring case and spacing, the final
/// full stop optional), matched against each sentence whole. The subject must name an entity
/// (<see cref="EntityLinker.LinkSpan"/>), narrowed to the candidates that hold the relation; when several remain, the
/// claim is about the first whose objects include the claimed one, and is not checked when none does. For a relation with several objects per
/// subject, a list ("Spain, Italy and Belgium") is one claim per item.</summary>
/// <remarks>Only sentences phrased as a template are read: the model's own paraphrases go unchecked (they are neither
/// supported nor contradicted). When several templates match one sentence, the one with the most literal text wins.</remarks>
public sealed class ClaimExtractor
{
    readonly IKnowledgeGraph _graph;
    readonly EntityLinker _linker;
    readonly List<(KgRelation Relation, Regex Pattern, int Literal)> _patterns = [];

    /// <summary>Longer sentences are not read: a template's lazy captures cost time quadratic in the sentence, and no
    /// statement of a fact runs this long (a run-on text without full stops would otherwise stall the checker).</summary>
    public const int MaxSentenceChars = 1000;

    public ClaimExtractor(IKnowledgeGraph graph, EntityLinker linker)
    {
        _graph = graph ?? throw new ArgumentNullException(nameof(graph));
        _linker = linker ?? throw new ArgumentNullException(nameof(linker));
        foreach (var relation in graph.Relations())
            if (Pattern(relation.Statement) is { } p) _patterns.Add((relation, p.Regex, p.Literal));
        _patterns.Sort((a, b) => b.Literal.CompareTo(a.Literal));
    }

    /// <summary>The claims in <paramref name="text"/>, in text order.</summary>
    public IReadOnlyList<Claim> Extract(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var claims = new List<Claim>();
        var sentences = Sentences.Split(text).ToList();
        for (int i = 0; i < sentences.Count; i++)
        {
            var (start, length) = sentences[i];
            if (length > MaxSentenceChars) continue;
            // A template that is two sentences ("Is {s} landlocked? {o}.") is matched against this one and the next.
            int pairLength = i + 1 < sentences.Count ? sentences[i + 1].Start + sentences[i + 1].Length - start : -1;
            if (pairLength > MaxSentenceChars) pairLength = -1;
            foreach (var (relation, pattern, _) in _patterns)
            {
                var m = pattern.Match(text.Substring(start, length));
                int span = length;
                if (!m.Success && pairLength > 0) { m = pattern.Match(text.Substring(start, pairLength)); span = pairLength; }
                if (!m.Success) continue;
                var found = Read(relation, m, start, span);
                if (found.Count == 0) continue;
                claims.AddRange(found);
                if (span != length) i++;   // the next sentence was this claim's object
                break;   // one reading per sentence: the most specific template that yields a claim
            }
        }
        return claims;
    }

    List<Claim> Read(KgRelation relation, Match m, int start, int length)
    {
        var subject = _linker.LinkSpan(m.Groups["s"].Value);
        if (subject is null) return [];
        var objects = relation.ObjectKind == TermKind.Entity && !relation.Functional ? SplitList(m.Groups["o"].Value) : [m.Groups["o"].Value.Trim()];
        var claims = new List<Claim>();
        foreach (string o in objects)
        {
            if (o.Length == 0) continue;
            var holders = subject.Candidates.Where(c => _graph.Match(c.Id, relation.Id, null).Count > 0).ToList();
            // Several candidates hold the relation: the claim is about one whose objects include the claimed one
            // (supported whichever it is); when none does, it cannot be pinned on one, so it is not checked.
            string? subjectId = subject.Candidates.Count == 1 ? subject.Candidates[0].Id
                : holders.Count == 1 ? holders[0].Id
                : holders.FirstOrDefault(c => _graph.Match(c.Id, relation.Id, null).Any(t => ObjectMatch.Matches(_graph, t.Object, o)))?.Id;
            if (subjectId is null) continue;
            var graphObjects = _graph.Match(subjectId, relation.Id, null).Select(t => t.Object);
            claims.Add(new Claim(subjectId, relation.Id, o, ObjectMatch.Read(_graph, relation.ObjectKind, o, graphObjects), start, length));
        }
        return claims;
    }

    // "Spain, Italy and Belgium" → the three names.
    static List<string> SplitList(string text) =>
        Regex.Split(text, @"\s*,\s*(?:and\s+|or\s+)?|\s+(?:and|or)\s+").Select(s => s.Trim()).Where(s => s.Length > 0).ToList();

    // "The capital of {s} is {o}." → ^The\s+capital\s+of\s+(?<s>.+?)\s+is\s+(?<o>.+?)[.!?]?$ (ignoring case).
    internal static (Regex Regex, int Literal)? Pattern(string statement)
    {
        string body = statement.Trim().TrimEnd('.', '!', '?');
        int s = body.IndexOf("{s}", StringComparison.Ordinal), o = body.IndexOf("{o}", StringComparison.Ordinal);
        if (s < 0 || o < 0) return null;
        var pattern = new StringBuilder("^");
        int literal = 0, at = 0;
        foreach (var (slot, name) in new[] { (s, "s"), (o, "o") }.OrderBy(x => x.Item1))
        {
            pattern.Append(Literal(body[at..slot], ref literal)).Append($"(?<{name}>.+?)");
            at = slot + 3;
        }
        pattern.Append(Literal(body[at..], ref literal)).Append(@"\s*[.!?]?$");
        return (new Regex(pattern.ToString(), RegexOptions.IgnoreCase | RegexOptions.CultureInvariant), literal);
    }

    static string Literal(string text, ref int count)
    {
        count += text.Count(char.IsLetterOrDigit);
        return Regex.Replace(Regex.Escape(text), @"(\\ |\s)+", @"\s+");
    }
}
