namespace Lathe.Knowledge.Grounding;

/// <summary>How a mention matched: an entity's name, one of its aliases, or a name within a small edit distance.</summary>
public enum LinkKind { Exact, Alias, Fuzzy }

/// <summary>A span of text that names graph entities. <see cref="Candidates"/> holds every entity the span may name
/// (by id): the linker reports ambiguity and never picks one.</summary>
public sealed record EntityMention(int Start, int Length, string Text, LinkKind Kind, IReadOnlyList<KgEntity> Candidates)
{
    public bool Ambiguous => Candidates.Count > 1;
}

/// <summary>Finds the graph entities a text names. Word n-grams of up to <see cref="MaxWords"/> words are looked up
/// by <see cref="NameKey"/> — entity names first, then aliases, then fuzzy (edit distance ≤ 1 for keys of 5–9
/// characters, ≤ 2 from 10, through <see cref="FuzzyNameIndex"/>) — and the longest mentions win, without overlap.</summary>
/// <remarks>Guards against linking ordinary words by accident (WordNet holds most English words, element symbols
/// collide with pronouns): a function word (<see cref="StopWords"/>), or a run of them, never links; a key of 3 characters or fewer
/// links only when the text has the name's exact case ("FRA", "Fe", but not "fra" or "fe"); a fuzzy match needs a
/// capitalised mention of at least 5 characters that neither starts nor ends with a function word. The whole-span
/// lookup questions and claims use (<see cref="LinkSpan"/>) is more lenient: there the template already says the
/// span is a name.</remarks>
public sealed class EntityLinker
{
    /// <summary>The longest mention, in words.</summary>
    public const int MaxWords = 6;

    readonly record struct NameEntry(KgEntity Entity, bool IsAlias, string Raw);

    readonly Dictionary<string, List<NameEntry>> _byKey = new(StringComparer.Ordinal);
    readonly FuzzyNameIndex _fuzzy;

    public EntityLinker(IKnowledgeGraph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        foreach (var entity in graph.Entities())   // by id, so candidate lists come out in id order
        {
            AddName(entity, entity.Name, isAlias: false);
            foreach (var alias in entity.Aliases) AddName(entity, alias, isAlias: true);
        }
        _fuzzy = new FuzzyNameIndex(_byKey.Keys);
    }

    void AddName(KgEntity entity, string raw, bool isAlias)
    {
        string key = NameKey.Of(raw);
        if (key.Length == 0) return;
        if (!_byKey.TryGetValue(key, out var list)) _byKey[key] = list = [];
        list.Add(new NameEntry(entity, isAlias, raw.Trim()));
    }

    /// <summary>The mentions in <paramref name="text"/>, in text order.</summary>
    public IReadOnlyList<EntityMention> Link(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var words = TextWords.Split(text);
        var found = new List<(int Word, int Count, EntityMention Mention)>();
        for (int i = 0; i < words.Count; i++)
            for (int n = Math.Min(MaxWords, words.Count - i); n >= 1; n--)
            {
                int start = words[i].Start, end = words[i + n - 1].End;
                string span = text[start..end];
                bool functionWords = true;   // "It is" must not link to the ISO code "IT-IS"
                for (int w = i; w < i + n && functionWords; w++) functionWords = StopWords.Contains(words[w].Key);
                var mention = functionWords ? null : Lookup(span, start, caseSensitiveShort: true);
                if (mention is null && char.IsUpper(span[0]) && !StopWords.Contains(words[i].Key) && !StopWords.Contains(words[i + n - 1].Key))
                    mention = Fuzzy(span, start);
                if (mention is not null) found.Add((i, n, mention));
            }
        // Longest first, then the better kind, then the earlier; a mention overlapping a chosen one is dropped.
        found.Sort((a, b) => a.Count != b.Count ? b.Count.CompareTo(a.Count)
            : a.Mention.Kind != b.Mention.Kind ? a.Mention.Kind.CompareTo(b.Mention.Kind) : a.Word.CompareTo(b.Word));
        var taken = new bool[words.Count];
        var chosen = new List<EntityMention>();
        foreach (var (word, count, mention) in found)
        {
            bool free = true;
            for (int w = word; w < word + count; w++) free &= !taken[w];
            if (!free) continue;
            for (int w = word; w < word + count; w++) taken[w] = true;
            chosen.Add(mention);
        }
        chosen.Sort((a, b) => a.Start.CompareTo(b.Start));
        return chosen;
    }

    /// <summary>The entities <paramref name="span"/> as a whole names (a question's subject slot, a claim's subject or
    /// object), or null: exact or alias in any case, else fuzzy. A lone function word links only when
    /// <paramref name="allowFunctionWords"/> (a question's slot, where the template says it is the subject: "What does
    /// one mean?"); claims leave it off, so "It is the capital of France." is not read about "information technology".
    /// <paramref name="offset"/> is where the span starts in its text.</summary>
    public EntityMention? LinkSpan(string span, int offset = 0, bool allowFunctionWords = false)
    {
        ArgumentNullException.ThrowIfNull(span);
        string trimmed = span.Trim();
        if (trimmed.Length == 0) return null;
        offset += span.IndexOf(trimmed, StringComparison.Ordinal);
        string key = NameKey.Of(trimmed);
        if (key.Length == 0 || !allowFunctionWords && StopWords.Contains(key)) return null;
        var mention = Lookup(trimmed, offset, caseSensitiveShort: false) ?? Fuzzy(trimmed, offset);
        // "the French Republic" in "The capital of the French Republic is Paris.": the article is not the name's.
        if (mention is null && key.StartsWith("the ", StringComparison.Ordinal) && trimmed.Length > 4 && char.IsWhiteSpace(trimmed[3]))
            mention = LinkSpan(trimmed[4..], offset + 4, allowFunctionWords);
        return mention;
    }

    EntityMention? Lookup(string span, int start, bool caseSensitiveShort)
    {
        string key = NameKey.Of(span);
        if (!_byKey.TryGetValue(key, out var entries)) return null;
        bool exactCase = caseSensitiveShort && key.Length <= 3;
        var names = new List<KgEntity>();
        var aliases = new List<KgEntity>();
        foreach (var e in entries)
        {
            if (exactCase && !string.Equals(e.Raw, span, StringComparison.Ordinal)) continue;
            (e.IsAlias ? aliases : names).Add(e.Entity);
        }
        if (names.Count + aliases.Count == 0) return null;
        var candidates = Distinct([.. names, .. aliases]);
        return new EntityMention(start, span.Length, span, names.Count > 0 ? LinkKind.Exact : LinkKind.Alias, candidates);
    }

    EntityMention? Fuzzy(string span, int start)
    {
        var (keys, _) = _fuzzy.Nearest(NameKey.Of(span));
        if (keys.Count == 0) return null;
        var candidates = Distinct(keys.SelectMany(k => _byKey[k]).Select(e => e.Entity));
        return new EntityMention(start, span.Length, span, LinkKind.Fuzzy, candidates);
    }

    static List<KgEntity> Distinct(IEnumerable<KgEntity> entities) =>
        entities.DistinctBy(e => e.Id).OrderBy(e => e.Id, StringComparer.Ordinal).ToList();
}
