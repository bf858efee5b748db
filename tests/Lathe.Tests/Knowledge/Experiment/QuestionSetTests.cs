using Lathe.Knowledge;
using Lathe.Knowledge.Experiment;

namespace Lathe.Tests.Knowledge.Experiment;

/// <summary>Question sets drawn from a hand-made graph: splits disjoint by fact, every phrasing of a fact present and on
/// one side, unanswerable names absent from the graph, definitions skipped, ambiguous subjects skipped, answers as the
/// graph writes them, determinism, the QA tuning lines and the files' round trip.</summary>
public class QuestionSetTests
{
    internal static InMemoryGraph Graph()
    {
        var g = new InMemoryGraph();
        g.AddRelation(new KgRelation("capital", "capital", TermKind.Entity, true, "The capital of {s} is {o}.",
            ["What is the capital of {s}?", "Which city is the capital of {s}?", "{s}'s capital is which city?"]));
        g.AddRelation(new KgRelation("area_km2", "area", TermKind.Number, true, "{s} covers {o} km2.",
            ["What is the area of {s} in km2?", "How large is {s} in km2?"]));
        g.AddRelation(new KgRelation("definition", "definition", TermKind.String, true, "{s} means {o}.",
            ["What does {s} mean?", "Define {s}."]));
        g.AddRelation(new KgRelation("note", "note", TermKind.String, false, "{s}: {o}.", []));
        string[] countries = ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India", "Juliett"];
        for (int i = 0; i < countries.Length; i++)
        {
            g.AddEntity($"country/{i}", countries[i], "country", countries[i][..3].ToUpperInvariant());
            g.AddEntity($"city/{i}", countries[i] + " City", "city", countries[i] + "ville");
            g.Add($"country/{i}", "capital", Term.Entity($"city/{i}"));
            g.Add($"country/{i}", "area_km2", Term.Number(1000 * (i + 1) + 0.5));
            g.Add($"country/{i}", "note", Term.Text("n"));
        }
        // Two entities named "Georgia" with a capital: no question may name either.
        g.AddEntity("country/GEO", "Georgia", "country");
        g.AddEntity("state/GA", "Georgia", "country");
        g.AddEntity("city/tbilisi", "Tbilisi", "city");
        g.AddEntity("city/atlanta", "Atlanta", "city");
        g.Add("country/GEO", "capital", Term.Entity("city/tbilisi"));
        g.Add("state/GA", "capital", Term.Entity("city/atlanta"));
        g.AddEntity("word/dog", "dog", "synset");
        g.AddEntity("word/cat", "cat", "synset");
        g.Add("word/dog", "definition", Term.Text("a member of the genus Canis that has been domesticated by man since prehistoric times"));
        g.Add("word/cat", "definition", Term.Text("feline mammal usually having thick soft fur and no ability to roar"));
        return g;
    }

    internal static List<UnknownEntity> Unknown() =>
    [
        new("Veloria", "country"), new("Quenmark", "country"), new("Zarbidia", "country"), new("Ostravel", "country"),
        new("Alpha", "country"),   // a real name: must never be asked as unanswerable
        new("Plimtor", "city"), new("Grindle", "synset"), new("Brimdal", "country"), new("Corvenna", "country"),
    ];

    static QuestionSet Build(int seed = 1, int perRelation = 6) =>
        QuestionSet.Build(Graph(), Unknown(), new QuestionSetOptions { Seed = seed, PerRelation = perRelation, UnanswerablePerRelation = 2 });

    [Fact]
    public void Splits_are_disjoint_by_fact_and_every_phrasing_of_a_fact_is_on_one_side()
    {
        var set = Build();
        var trainFacts = set.Train.Select(r => (r.Subject, r.Relation)).ToHashSet();
        var heldFacts = set.HeldOut.Select(r => (r.Subject, r.Relation)).ToHashSet();
        Assert.Empty(trainFacts.Intersect(heldFacts));
        var g = Graph();
        foreach (var fact in trainFacts.Concat(heldFacts))
        {
            int templates = g.FindRelation(fact.Relation)!.Questions.Count;
            var rows = set.Train.Concat(set.HeldOut).Where(r => (r.Subject, r.Relation) == fact).ToList();
            Assert.Equal(Enumerable.Range(0, templates), rows.Select(r => r.Phrasing).Order());
        }
        // 6 facts per relation, half held out; exclude lists exactly the answerable held-out facts.
        Assert.Equal(3, set.HeldOut.Where(r => r.Answerable && r.Relation == "capital").Select(r => r.Subject).Distinct().Count());
        Assert.Equal(3, set.Train.Where(r => r.Answerable && r.Relation == "capital").Select(r => r.Subject).Distinct().Count());
        Assert.Equal(set.HeldOut.Where(r => r.Answerable).Select(r => new AskedFact(r.Subject, r.Relation)).Distinct().OrderBy(f => f.ToString()),
            set.HeldOutFacts.OrderBy(f => f.ToString()));
        Assert.Equal(set.Train.Count + set.HeldOut.Count, set.Train.Concat(set.HeldOut).Select(r => r.Id).Distinct().Count());
    }

    [Fact]
    public void Copy_drills_ask_about_spare_invented_names_whose_answer_is_only_in_the_first_fact()
    {
        var set = Build();
        var g = Graph();
        int trainFacts = set.Train.Where(r => r.Answerable).Select(r => (r.Subject, r.Relation)).Distinct().Count();
        Assert.Equal(2 * trainFacts, set.CopyDrills.Count);
        var asked = set.Train.Concat(set.HeldOut).Where(r => !r.Answerable).Select(r => r.Subject).ToHashSet();
        var capitals = Enumerable.Range(0, 10).Select(i => g.FindEntity($"city/{i}")!.Name).Concat(["Tbilisi", "Atlanta"]).ToList();
        foreach (var d in set.CopyDrills)
        {
            string name = Unknown().Where(u => u.Type == "country" && u.Name != "Alpha" && !asked.Contains(u.Name)).Select(u => u.Name).Single(n => d.Question.Contains(n));
            Assert.Empty(g.EntitiesNamed(name));
            Assert.InRange(d.Facts.Count, 1, 2);   // the asked fact, and at most one other relation here
            Assert.Contains(d.Answer, d.Facts[0]);
            Assert.True(d.Facts[0] == $"The capital of {name} is {d.Answer}." ? capitals.Contains(d.Answer) : d.Facts[0] == $"{name} covers {d.Answer} km2.", string.Join(" / ", d.Facts) + " ? " + d.Question);
        }
        var qa = QaTrainingData.Build(set.Train, r => GroundedPrompt.Format(r.Question), set.CopyDrills).ToList();
        var last = set.CopyDrills[^1];
        Assert.Equal(new QaExample(GroundedPrompt.Format(last.Question, last.Facts), " " + last.Answer + "\n"), qa[^1]);
        Assert.Empty(QuestionSet.Build(g, Unknown(), new QuestionSetOptions { PerRelation = 6, UnanswerablePerRelation = 2, DrillsPerFact = 0 }).CopyDrills);
    }

    [Fact]
    public void Exclusions_hold_the_held_out_facts_and_their_inverses()
    {
        var g = Graph();
        g.AddRelation(new KgRelation("capital_of", "capital of", TermKind.Entity, false, "{s} is the capital of {o}.", []));
        for (int i = 0; i < 10; i++) g.Add($"city/{i}", "capital_of", Term.Entity($"country/{i}"));
        var set = QuestionSet.Build(g, Unknown(), new QuestionSetOptions { Seed = 1, PerRelation = 6, Relations = ["capital"] });
        var expected = set.HeldOutFacts.Concat(set.HeldOutFacts.Select(f => new AskedFact("city/" + f.Subject.Split('/')[1], "capital_of"))).ToList();
        Assert.Equal(expected, set.ExcludedFacts);
        Assert.Equal(3, set.HeldOutFacts.Count);
    }

    [Fact]
    public void Definitions_relations_without_templates_and_ambiguous_subjects_are_skipped()
    {
        var set = Build(perRelation: 20);
        Assert.Equal(["area_km2", "capital"], set.Relations.Order());
        var all = set.Train.Concat(set.HeldOut).ToList();
        Assert.DoesNotContain(all, r => r.Relation is "definition" or "note");
        Assert.DoesNotContain(all, r => r.Subject is "country/GEO" or "state/GA");
        Assert.Equal(10, all.Where(r => r.Answerable && r.Relation == "capital").Select(r => r.Subject).Distinct().Count());
    }

    [Fact]
    public void Answers_and_questions_are_written_as_the_graph_writes_them()
    {
        var all = Build().Train.Concat(Build().HeldOut).Where(r => r.Answerable).ToList();
        var capital = all.First(r => r.Relation == "capital" && r.Subject == all.First(q => q.Relation == "capital").Subject && r.Phrasing == 1);
        string name = Graph().FindEntity(capital.Subject)!.Name;
        Assert.Equal($"Which city is the capital of {name}?", capital.Question);
        Assert.Equal([name + " City", name + "ville"], capital.Answers);
        var area = all.First(r => r.Relation == "area_km2");
        int i = int.Parse(area.Subject.Split('/')[1]);
        Assert.Equal([$"{1000 * (i + 1)}.5"], area.Answers);
        Assert.True(area.Numeric);
        Assert.False(capital.Numeric);
    }

    [Fact]
    public void Unanswerable_questions_name_no_entity_of_the_graph_and_each_name_is_used_once()
    {
        var set = Build();
        var g = Graph();
        var unanswerable = set.Train.Concat(set.HeldOut).Where(r => !r.Answerable).ToList();
        Assert.NotEmpty(unanswerable);
        Assert.All(unanswerable, r => { Assert.Empty(g.EntitiesNamed(r.Subject)); Assert.Empty(r.Answers); Assert.Contains(r.Subject, r.Question); });
        Assert.DoesNotContain(unanswerable, r => r.Subject == "Alpha");
        // Only country names: the relations' subjects are countries. Each name asked about one relation only.
        Assert.All(unanswerable, r => Assert.Contains(r.Subject, new[] { "Veloria", "Quenmark", "Zarbidia", "Ostravel", "Brimdal", "Corvenna" }));
        Assert.All(unanswerable.GroupBy(r => r.Subject), grp => Assert.Single(grp.Select(r => r.Relation).Distinct()));
        Assert.Contains(set.HeldOut, r => !r.Answerable);
        Assert.Contains(set.Train, r => !r.Answerable);
    }

    [Fact]
    public void The_same_seed_gives_the_same_set_and_another_seed_another()
    {
        var a = Build(1).HeldOut.Select(QuestionFiles.Line).ToList();
        Assert.Equal(a, Build(1).HeldOut.Select(QuestionFiles.Line).ToList());
        Assert.NotEqual(a, Build(2).HeldOut.Select(QuestionFiles.Line).ToList());
    }

    [Fact]
    public void Qa_training_lines_teach_answers_plain_and_grounded_and_abstention_only_when_grounded()
    {
        var set = Build();
        var lines = QaTrainingData.Build(set.Train, r => GroundedPrompt.Format(r.Question, ["FACTS of " + r.Subject])).ToList();
        int answerable = set.Train.Count(r => r.Answerable), unanswerable = set.Train.Count(r => !r.Answerable);
        Assert.Equal(2 * answerable + unanswerable, lines.Count);
        var row = set.Train.First(r => r.Answerable);
        Assert.Contains(new QaExample($"Question: {row.Question}\nAnswer:", " " + row.Answers[0] + "\n"), lines);
        Assert.Contains(new QaExample($"Facts:\n- FACTS of {row.Subject}\nQuestion: {row.Question}\nAnswer:", " " + row.Answers[0] + "\n"), lines);
        var unknown = set.Train.First(r => !r.Answerable);
        Assert.Contains(new QaExample($"Facts:\n- FACTS of {unknown.Subject}\nQuestion: {unknown.Question}\nAnswer:", " I don't know.\n"), lines);
        Assert.DoesNotContain(lines, l => l.Prompt == $"Question: {unknown.Question}\nAnswer:");
    }

    [Fact]
    public void Files_round_trip_and_a_bad_row_names_its_file_and_line()
    {
        string dir = Path.Combine(Path.GetTempPath(), "lathe-qs-" + Guid.NewGuid().ToString("N"));
        try
        {
            var set = Build();
            QuestionFiles.Write(dir, set, QaTrainingData.Build(set.Train, r => GroundedPrompt.Format(r.Question)));
            Assert.Equal(set.HeldOut.Select(QuestionFiles.Line), QuestionFiles.Read(Path.Combine(dir, "heldout.jsonl")).Select(QuestionFiles.Line));
            Assert.Equal(set.ExcludedFacts.Count, File.ReadAllLines(Path.Combine(dir, "exclude.jsonl")).Length);
            Assert.StartsWith("{\"s\":\"country/", File.ReadAllLines(Path.Combine(dir, "exclude.jsonl"))[0]);
            string bad = Path.Combine(dir, "bad.jsonl");
            File.WriteAllText(bad, QuestionFiles.Line(set.HeldOut[0]) + "\n{\"id\":\"x\",\"question\":\"q\",\"subject\":\"s\",\"relation\":\"r\",\"answers\":[],\"answerable\":true,\"phrasing\":0}\n");
            var e = Assert.Throws<InvalidDataException>(() => QuestionFiles.Read(bad));
            Assert.Equal($"{bad}:2: an answerable question needs at least one answer", e.Message);
            File.WriteAllText(bad, "{\"id\":1,\"answers\":[],\"answerable\":false,\"phrasing\":0}\n");
            Assert.Equal($"{bad}:1: field 'id' must be a string", Assert.Throws<InvalidDataException>(() => QuestionFiles.Read(bad)).Message);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Fact]
    public void Bad_options_and_unknown_relations_are_one_line_errors()
    {
        Assert.Contains("per-relation 1", Assert.Throws<ArgumentException>(() => QuestionSet.Build(Graph(), [], new QuestionSetOptions { PerRelation = 1 })).Message);
        Assert.Contains("'nope'", Assert.Throws<ArgumentException>(() => QuestionSet.Build(Graph(), [], new QuestionSetOptions { Relations = ["nope"] })).Message);
        Assert.Contains("'definition' has long answers", Assert.Throws<ArgumentException>(() => QuestionSet.Build(Graph(), [], new QuestionSetOptions { Relations = ["definition"] })).Message);
    }
}
