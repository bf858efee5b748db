namespace Lathe.Knowledge.Grounding;

/// <summary>What a question asks for: its subject as mentioned, the entity that is (null when nothing links or it
/// stays ambiguous), the relation asked (null when none is recognised), and why the reading is incomplete.</summary>
public sealed record QuestionReading(EntityMention? Subject, KgEntity? Entity, KgRelation? Relation, string? Problem);

/// <summary>Reads which (subject, relation) a question asks for. First the relations' question templates: the text
/// around <c>{s}</c> must match the question word for word (by <see cref="NameKey"/>) and the words in the slot must
/// name an entity (<see cref="EntityLinker.LinkSpan"/>); when a template matches but its slot names nothing in the
/// graph, the question is unanswerable from it (no subject, the relation kept). Then a template's opening words (three
/// or more) with the subject ending the question. Failing that, a relation's label among the question's words
/// and an entity the linker finds elsewhere in it. Candidates of an ambiguous subject are narrowed to those the graph
/// holds the asked relation for; if several remain the reading says "ambiguous: A | B" and names no entity.</summary>
public sealed class QuestionReader
{
    readonly IKnowledgeGraph _graph;
    readonly EntityLinker _linker;
    readonly List<(KgRelation Relation, string[] Prefix, string[] Suffix)> _templates = [];
    readonly List<(KgRelation Relation, string[] Label)> _labels = [];

    public QuestionReader(IKnowledgeGraph graph, EntityLinker linker)
    {
        _graph = graph ?? throw new ArgumentNullException(nameof(graph));
        _linker = linker ?? throw new ArgumentNullException(nameof(linker));
        foreach (var relation in graph.Relations())
        {
            foreach (var template in relation.Questions)
            {
                int slot = template.IndexOf("{s}", StringComparison.Ordinal);
                if (slot < 0) continue;
                _templates.Add((relation, TextWords.Keys(template[..slot]), TextWords.Keys(template[(slot + 3)..])));
            }
            var label = TextWords.Keys(relation.Label.Replace('_', ' '));
            if (label.Length > 0) _labels.Add((relation, label));
        }
        // More literal words first: "Which city is the capital of {s}?" is a surer reading than "{s}?".
        _templates.Sort((a, b) => (b.Prefix.Length + b.Suffix.Length).CompareTo(a.Prefix.Length + a.Suffix.Length));
        _labels.Sort((a, b) => b.Label.Length.CompareTo(a.Label.Length));
    }

    public QuestionReading Read(string question)
    {
        ArgumentNullException.ThrowIfNull(question);
        var words = TextWords.Split(question);
        QuestionReading? unlinked = null, first = null;
        foreach (var (relation, prefix, suffix) in _templates)
        {
            int n = words.Count, k = prefix.Length, m = suffix.Length;
            if (n - k - m < 1 || !Matches(words, 0, prefix) || !Matches(words, n - m, suffix)) continue;
            if (Slot(question, words, k, n - m) is { } subject)
            {
                // Two relations may share a phrasing ("What is the symbol of {s}?" for elements and currencies): the
                // reading whose subject holds the relation wins, else the most literal one.
                var reading = Narrow(subject, relation);
                if (reading.Subject!.Candidates.Any(c => Has(c, relation))) return reading;
                first ??= reading;
                continue;
            }
            int start = words[k].Start, end = words[n - m - 1].End;
            unlinked ??= new QuestionReading(null, null, relation, $"'{question[start..end]}' is not an entity of the graph");
        }
        if (first is not null) return first;
        // The question is phrased as a template of the graph but its subject is not in it: unanswerable from the graph.
        if (unlinked is not null) return unlinked;
        // A template's opening words with the subject closing the question ("What is the area of Japan?" for
        // "What is the area of {s} in square kilometres?"); at least three words, so "What is {s}…" alone is no reading.
        foreach (var (relation, prefix, _) in _templates)
        {
            if (prefix.Length < 3 || words.Count - prefix.Length < 1 || !Matches(words, 0, prefix)) continue;
            if (Slot(question, words, prefix.Length, words.Count) is { } subject) return Narrow(subject, relation);
        }
        var mentions = _linker.Link(question);
        QuestionReading? byLabel = null;
        foreach (var (relation, label) in _labels)
        {
            int at = Find(words, label);
            if (at < 0) continue;
            int labelStart = words[at].Start, labelEnd = words[at + label.Length - 1].End;
            var others = mentions.Where(x => x.Start + x.Length <= labelStart || x.Start >= labelEnd).ToList();
            if (others.Count == 0) continue;
            if (others.Count > 1)
            {
                // Prefer the mentions that can be the subject of this relation.
                var holding = others.Where(x => x.Candidates.Any(c => Has(c, relation))).ToList();
                if (holding.Count > 0) others = holding;
            }
            var reading = others.Count > 1
                ? new QuestionReading(others[0], null, relation, "ambiguous subject: " + string.Join(" | ", others.Select(x => x.Text)))
                : Narrow(others[0], relation);
            // "capital of Italy?" names the labels "capital of" and "capital": the one the subject holds wins.
            if (reading.Subject!.Candidates.Any(c => Has(c, relation))) return reading;
            byLabel ??= reading;
        }
        if (byLabel is not null) return byLabel;
        if (mentions.Count == 0) return new QuestionReading(null, null, null, "the question names no entity of the graph");
        var only = mentions.Count == 1 && !mentions[0].Ambiguous ? mentions[0].Candidates[0] : null;
        return new QuestionReading(mentions[0], only, null, "no relation of the graph is asked for");
    }

    // The entity named by words [from, to) of the question, or null.
    EntityMention? Slot(string question, List<TextWord> words, int from, int to)
    {
        int start = words[from].Start, end = words[to - 1].End;
        return _linker.LinkSpan(question[start..end], start, allowFunctionWords: true);
    }

    // Keeps the candidates that hold the relation (all of them when none does: the plan then finds no facts).
    QuestionReading Narrow(EntityMention subject, KgRelation relation)
    {
        var candidates = subject.Candidates;
        if (candidates.Count > 1)
        {
            var holding = candidates.Where(c => Has(c, relation)).ToList();
            if (holding.Count > 0) candidates = holding;
        }
        // A subject found only by spelling distance is read, and said to be: "Neport" is not "Newport" for certain.
        string? fuzzy = subject.Kind == LinkKind.Fuzzy
            ? $"'{subject.Text}' read as {string.Join(" | ", candidates.Select(c => $"{c.Name} ({c.Id})"))} by spelling" : null;
        if (candidates.Count == 1) return new QuestionReading(subject, candidates[0], relation, fuzzy);
        return new QuestionReading(subject with { Candidates = candidates }, null, relation,
            "ambiguous: " + string.Join(" | ", candidates.Select(c => $"{c.Name} ({c.Id})")));
    }

    bool Has(KgEntity entity, KgRelation relation) => _graph.Match(entity.Id, relation.Id, null).Count > 0;

    static bool Matches(List<TextWord> words, int at, string[] keys)
    {
        for (int i = 0; i < keys.Length; i++)
            if (words[at + i].Key != keys[i]) return false;
        return true;
    }

    static int Find(List<TextWord> words, string[] keys)
    {
        for (int at = 0; at + keys.Length <= words.Count; at++)
            if (Matches(words, at, keys)) return at;
        return -1;
    }
}
