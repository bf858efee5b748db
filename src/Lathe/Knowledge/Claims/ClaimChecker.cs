using Lathe.Knowledge.Grounding;

namespace Lathe.Knowledge.Claims;

/// <summary>Checks claims against the graph: <see cref="ClaimStatus.Supported"/> when one of the graph's objects for
/// (subject, relation) is the claimed one, <see cref="ClaimStatus.Contradicted"/> when the graph holds objects for
/// them and none is (closed world per subject and relation), <see cref="ClaimStatus.Unknown"/> when it holds none.</summary>
public sealed class ClaimChecker
{
    readonly IKnowledgeGraph _graph;
    readonly ClaimExtractor _extractor;
    readonly QuestionReader _reader;

    public ClaimChecker(IKnowledgeGraph g, EntityLinker linker)
    {
        _graph = g ?? throw new ArgumentNullException(nameof(g));
        ArgumentNullException.ThrowIfNull(linker);
        _extractor = new ClaimExtractor(g, linker);
        _reader = new QuestionReader(g, linker);
    }

    /// <summary>The verdict on every claim stated in <paramref name="text"/> as a sentence of a relation's statement
    /// template (<see cref="ClaimExtractor"/>).</summary>
    public IReadOnlyList<ClaimVerdict> Check(string text) => _extractor.Extract(text).Select(Verdict).ToList();

    /// <summary>The verdict on <paramref name="answer"/> as the answer to <paramref name="question"/>: the subject and
    /// relation come from the question (<see cref="QuestionReader"/>), the object is the answer (or, when the answer is a
    /// statement of that relation about that subject, the object it states). Null when the question's subject or
    /// relation is not read unambiguously, or the answer abstains or is empty.</summary>
    public ClaimVerdict? CheckAnswer(string question, string answer)
    {
        ArgumentNullException.ThrowIfNull(question);
        ArgumentNullException.ThrowIfNull(answer);
        string text = answer.Trim();
        if (text.Length == 0 || GroundedPrompt.IsAbstention(text)) return null;
        var reading = _reader.Read(question);
        if (reading.Entity is null || reading.Relation is null) return null;
        var stated = _extractor.Extract(text).FirstOrDefault(c => c.SubjectId == reading.Entity.Id && c.Relation == reading.Relation.Id);
        if (stated is not null) return Verdict(stated);
        string obj = text.TrimEnd('.', '!', '?', ' ');
        var graphObjects = _graph.Match(reading.Entity.Id, reading.Relation.Id, null).Select(t => t.Object);
        int start = answer.IndexOf(text, StringComparison.Ordinal);
        return Verdict(new Claim(reading.Entity.Id, reading.Relation.Id, obj, ObjectMatch.Read(_graph, reading.Relation.ObjectKind, obj, graphObjects), start, text.Length));
    }

    ClaimVerdict Verdict(Claim claim)
    {
        var facts = _graph.Match(claim.SubjectId, claim.Relation, null);
        var values = facts.Select(t => FactText.ObjectText(_graph, t.Object)).ToList();
        if (facts.Count == 0) return new ClaimVerdict(claim, ClaimStatus.Unknown, values);
        bool supported = facts.Any(t => ObjectMatch.Matches(_graph, t.Object, claim.ObjectText));
        return new ClaimVerdict(claim, supported ? ClaimStatus.Supported : ClaimStatus.Contradicted, values);
    }
}
