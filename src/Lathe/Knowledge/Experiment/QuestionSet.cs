namespace Lathe.Knowledge.Experiment;

/// <summary>How a question set is drawn from a graph.</summary>
public sealed record QuestionSetOptions
{
    public int Seed { get; init; } = 1;
    /// <summary>Facts (subject, relation) sampled per relation, before the split.</summary>
    public int PerRelation { get; init; } = 40;
    /// <summary>Share of the sampled facts held out (never taught by QA tuning); the rest are the training facts.</summary>
    public double HeldOutFraction { get; init; } = 0.5;
    /// <summary>Invented subjects per relation, split the same way (null: half of <see cref="PerRelation"/>).</summary>
    public int? UnanswerablePerRelation { get; init; }
    /// <summary>Only these relations (null: every relation with short answers and question templates).</summary>
    public IReadOnlyList<string>? Relations { get; init; }
    /// <summary>Copy drills per training fact (<see cref="QuestionSet.CopyDrills"/>); 0 for none.</summary>
    public int DrillsPerFact { get; init; } = 2;
    /// <summary>A relation qualifies when its answers are at most this many characters long (definitions are not).</summary>
    public int MaxAnswerChars { get; init; } = 40;

    internal void Validate()
    {
        if (PerRelation < 2) throw new ArgumentException($"per-relation {PerRelation} must be at least 2 (one fact each side of the split)");
        if (!(HeldOutFraction > 0 && HeldOutFraction < 1)) throw new ArgumentException($"held-out fraction {HeldOutFraction} must be in (0, 1)");
        if (UnanswerablePerRelation is < 0) throw new ArgumentException($"unanswerable per relation {UnanswerablePerRelation} must be 0 or more");
        if (DrillsPerFact < 0) throw new ArgumentException($"drills per fact {DrillsPerFact} must be 0 or more");
        if (MaxAnswerChars < 1) throw new ArgumentException($"max answer chars {MaxAnswerChars} must be positive");
    }
}

/// <summary>A retrieval-shaped training example whose answer can only come from its facts: an invented subject (a
/// spare name of the unanswerable pool, never asked about), made-up facts in the relations' statement templates —
/// the asked one first, as retrieval orders them — and the made-up object as the answer.</summary>
public sealed record CopyDrill(string Question, IReadOnlyList<string> Facts, string Answer);

/// <summary>A fact a question asks for: the subject (an entity id, or an invented name) and the relation. The split is
/// by fact, so every phrasing of a fact lands on the same side.</summary>
public readonly record struct AskedFact(string Subject, string Relation);

/// <summary>The questions of the hallucination experiment, drawn from a graph: for each relation with short answers,
/// sampled facts asked in every phrasing the relation has, split by fact into the facts QA tuning may teach
/// (<see cref="Train"/>) and the facts it never sees (<see cref="HeldOut"/>); plus unanswerable questions about invented
/// entities, split the same way. Same graph, names and options → the same set, row for row.</summary>
public sealed class QuestionSet
{
    public required IReadOnlyList<QuestionRow> Train { get; init; }
    public required IReadOnlyList<QuestionRow> HeldOut { get; init; }
    /// <summary>The answerable held-out facts: what a knowledge-injection corpus leaves out to test knowledge it never read.</summary>
    public required IReadOnlyList<AskedFact> HeldOutFacts { get; init; }
    /// <summary>What a corpus without knowledge injection must leave out: the held-out facts and their inverses — a
    /// (object, relation′) pair whose facts lead back to the held-out subject ("Gaborone is the capital of Botswana"
    /// states the held-out "the capital of Botswana is Gaborone" the other way round).</summary>
    public required IReadOnlyList<AskedFact> ExcludedFacts { get; init; }
    /// <summary>Examples that teach reading the facts of a prompt. Every real training answer is also in the
    /// pre-training corpus, so a model can fit the QA data from memory alone and never learn to use retrieved facts;
    /// a drill's answer is in its prompt and nowhere else.</summary>
    public required IReadOnlyList<CopyDrill> CopyDrills { get; init; }
    /// <summary>The relations the set asks about, by id.</summary>
    public required IReadOnlyList<string> Relations { get; init; }

    /// <summary>Draws the set.</summary>
    /// <exception cref="ArgumentException">Bad options, or a relation named in <see cref="QuestionSetOptions.Relations"/>
    /// that the graph lacks or that has no question templates.</exception>
    public static QuestionSet Build(IKnowledgeGraph graph, IReadOnlyList<UnknownEntity> unknown, QuestionSetOptions options)
    {
        options.Validate();
        var rng = new Random(options.Seed);
        var relations = ChooseRelations(graph, options);
        var train = new List<QuestionRow>();
        var heldOut = new List<QuestionRow>();
        var heldOutFacts = new List<AskedFact>();
        var usedUnknown = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (relation, facts, subjectTypes) in relations)
        {
            // Subjects in id order, then a seeded shuffle: the sample does not depend on the store's row order.
            var subjects = facts.Keys.Order(StringComparer.Ordinal).ToList();
            Shuffle(subjects, rng);
            var chosen = new List<string>();
            foreach (string s in subjects)
            {
                if (chosen.Count == options.PerRelation) break;
                if (IsUnambiguous(graph, s, relation.Id)) chosen.Add(s);
            }
            if (chosen.Count < 2) continue;
            int heldCount = Math.Clamp((int)Math.Round(chosen.Count * options.HeldOutFraction), 1, chosen.Count - 1);
            for (int i = 0; i < chosen.Count; i++)
            {
                bool held = i < heldCount;
                string s = chosen[i];
                var rows = Phrasings(relation, s, FactText.SubjectName(graph, s), facts[s], answerable: true);
                (held ? heldOut : train).AddRange(rows);
                if (held) heldOutFacts.Add(new AskedFact(s, relation.Id));
            }
            // Unanswerable: invented names of a type this relation's subjects have, each used once in the whole set.
            int wanted = options.UnanswerablePerRelation ?? options.PerRelation / 2;
            var pool = unknown.Where(u => subjectTypes.Contains(u.Type) && !usedUnknown.Contains(NameKey.Of(u.Name))).ToList();
            Shuffle(pool, rng);
            var invented = new List<UnknownEntity>();
            foreach (var u in pool)
            {
                if (invented.Count == wanted) break;
                if (graph.EntitiesNamed(u.Name).Count > 0) continue;   // the name turned out to be real: not unanswerable
                invented.Add(u);
                usedUnknown.Add(NameKey.Of(u.Name));
            }
            int heldUnknown = invented.Count < 2 ? invented.Count : Math.Clamp((int)Math.Round(invented.Count * options.HeldOutFraction), 1, invented.Count - 1);
            for (int i = 0; i < invented.Count; i++)
                (i < heldUnknown ? heldOut : train).AddRange(Phrasings(relation, invented[i].Name, invented[i].Name, [], answerable: false));
        }
        var drills = Drills(graph, relations, train, unknown, usedUnknown, options.DrillsPerFact, rng);
        return new QuestionSet
        {
            CopyDrills = drills, Train = train, HeldOut = heldOut, HeldOutFacts = heldOutFacts, ExcludedFacts = WithInverses(graph, heldOutFacts),
            Relations = relations.Select(r => r.Relation.Id).ToList(),
        };
    }

    // DrillsPerFact drills per answerable training fact, each with a spare invented name of a type the relation's
    // subjects have (names cycle when a type runs out), the fact's relation asked in a rotating phrasing, its object
    // drawn from the relation's objects, and up to three made-up facts of other relations after it.
    static List<CopyDrill> Drills(IKnowledgeGraph graph, List<(KgRelation Relation, Dictionary<string, List<string>> Facts, HashSet<string> SubjectTypes)> relations,
        List<QuestionRow> train, IReadOnlyList<UnknownEntity> unknown, HashSet<string> used, int perFact, Random rng)
    {
        var drills = new List<CopyDrill>();
        if (perFact == 0) return drills;
        var spare = new Dictionary<string, List<UnknownEntity>>(StringComparer.Ordinal);
        foreach (var u in unknown)
        {
            if (used.Contains(NameKey.Of(u.Name)) || graph.EntitiesNamed(u.Name).Count > 0) continue;
            if (!spare.TryGetValue(u.Type, out var list)) spare[u.Type] = list = [];
            list.Add(u);
        }
        foreach (var list in spare.Values) Shuffle(list, rng);
        var cursor = spare.Keys.ToDictionary(k => k, _ => 0, StringComparer.Ordinal);
        var objects = relations.ToDictionary(r => r.Relation.Id,
            r => graph.Match(null, r.Relation.Id, null).Select(t => FactText.ObjectText(graph, t.Object)).Where(o => r.Facts.Values.Any(a => a.Contains(o))).Distinct().Order(StringComparer.Ordinal).ToList());
        var byId = relations.ToDictionary(r => r.Relation.Id);
        var facts = train.Where(r => r.Answerable).Select(r => (r.Subject, r.Relation)).Distinct().ToList();
        foreach (var (subject, relationId) in facts)
        {
            var (relation, _, types) = byId[relationId];
            string? type = types.Order(StringComparer.Ordinal).FirstOrDefault(spare.ContainsKey);
            if (type is null) continue;
            for (int d = 0; d < perFact; d++)
            {
                var names = spare[type];
                string name = names[cursor[type]++ % names.Count].Name;
                string answer = objects[relationId][rng.Next(objects[relationId].Count)];
                var lines = new List<string> { FactText.Fill(relation.Statement, name, answer) };
                var others = relations.Where(r => r.Relation.Id != relationId && r.SubjectTypes.Contains(type)).Select(r => r.Relation).ToList();
                Shuffle(others, rng);
                foreach (var other in others.Take(rng.Next(4)).OrderBy(r => r.Id, StringComparer.Ordinal))
                    lines.Add(FactText.Fill(other.Statement, name, objects[other.Id][rng.Next(objects[other.Id].Count)]));
                string template = relation.Questions[(drills.Count + d) % relation.Questions.Count];
                drills.Add(new CopyDrill(FactText.Question(template, name), lines, answer));
            }
        }
        return drills;
    }

    static List<AskedFact> WithInverses(IKnowledgeGraph graph, IReadOnlyList<AskedFact> facts)
    {
        var all = new List<AskedFact>(facts);
        var seen = new HashSet<AskedFact>(facts);
        foreach (var f in facts)
            foreach (var t in graph.Match(f.Subject, f.Relation, null))
                if (t.Object.IsEntity)
                    foreach (var back in graph.Match(t.Object.Value, null, Term.Entity(f.Subject)))
                        if (seen.Add(new AskedFact(back.Subject, back.Relation))) all.Add(new AskedFact(back.Subject, back.Relation));
        return all;
    }

    // Every question template of the relation, filled with the subject's name.
    static IEnumerable<QuestionRow> Phrasings(KgRelation relation, string subject, string subjectName, IReadOnlyList<string> answers, bool answerable) =>
        relation.Questions.Select((template, k) => new QuestionRow($"{relation.Id}|{subject}|{k}", FactText.Question(template, subjectName),
            subject, relation.Id, answers, answerable, k) { Numeric = relation.ObjectKind == TermKind.Number });

    // The relations that qualify, each with its facts' answers per subject and the types of its subjects.
    static List<(KgRelation Relation, Dictionary<string, List<string>> Facts, HashSet<string> SubjectTypes)> ChooseRelations(IKnowledgeGraph graph, QuestionSetOptions options)
    {
        var chosen = new List<(KgRelation, Dictionary<string, List<string>>, HashSet<string>)>();
        IEnumerable<KgRelation> candidates = graph.Relations();
        if (options.Relations is { } names)
        {
            candidates = names.Select(n => graph.FindRelation(n) ?? throw new ArgumentException($"relations: the graph has no relation '{n}'")).ToList();
            foreach (var r in candidates)
                if (r.Questions.Count == 0) throw new ArgumentException($"relations: relation '{r.Id}' has no question templates");
        }
        foreach (var relation in candidates)
        {
            if (relation.Questions.Count == 0) continue;
            var facts = new Dictionary<string, List<string>>(StringComparer.Ordinal);
            var types = new HashSet<string>(StringComparer.Ordinal);
            var lengths = new List<int>();
            var longSubjects = new HashSet<string>(StringComparer.Ordinal);
            foreach (var t in graph.Match(null, relation.Id, null))
            {
                var answers = Answers(graph, t.Object);
                lengths.Add(answers[0].Length);
                // A subject with a long object (a city that is the capital of "South Georgia and the South Sandwich
                // Islands") is not asked about this relation: its answer set would be incomplete without that object.
                if (answers[0].Length > options.MaxAnswerChars) { longSubjects.Add(t.Subject); continue; }
                if (!facts.TryGetValue(t.Subject, out var list)) facts[t.Subject] = list = [];
                foreach (string a in answers) if (!list.Contains(a)) list.Add(a);
                if (graph.FindEntity(t.Subject) is { } e) types.Add(e.Type);
            }
            foreach (string s in longSubjects) facts.Remove(s);
            // A relation whose typical answer is long (definitions, example sentences) is not a short-answer relation.
            lengths.Sort();
            int median = lengths.Count == 0 ? 0 : lengths[lengths.Count / 2];
            bool shortAnswers = median <= options.MaxAnswerChars;
            if (!shortAnswers && options.Relations is not null)
                throw new ArgumentException($"relations: relation '{relation.Id}' has long answers (median {median} characters, more than {options.MaxAnswerChars})");
            if (shortAnswers && facts.Count >= 2) chosen.Add((relation, facts, types));
        }
        return chosen;
    }

    /// <summary>The acceptable answers for an object: its text (<see cref="FactText.ObjectText"/>) first, then an
    /// entity's aliases.</summary>
    internal static List<string> Answers(IKnowledgeGraph graph, Term obj)
    {
        var answers = new List<string> { FactText.ObjectText(graph, obj) };
        if (obj.IsEntity && graph.FindEntity(obj.Value) is { } e)
            foreach (string alias in e.Aliases) if (!answers.Contains(alias)) answers.Add(alias);
        return answers;
    }

    // A subject is asked about only when its name picks out one entity holding the relation: with two "Georgia"s
    // (the country, the state) a question naming one has no single right answer.
    static bool IsUnambiguous(IKnowledgeGraph graph, string subject, string relation)
    {
        var entity = graph.FindEntity(subject);
        if (entity is null) return false;
        int holders = 0;
        foreach (var e in graph.EntitiesNamed(entity.Name))
            if (graph.Match(e.Id, relation, null).Count > 0 && ++holders > 1) return false;
        return true;
    }

    static void Shuffle<T>(List<T> items, Random rng)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
