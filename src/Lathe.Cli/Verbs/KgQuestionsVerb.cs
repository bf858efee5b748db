using System.CommandLine;
using Lathe.Knowledge;
using Lathe.Knowledge.Experiment;
using Lathe.Knowledge.Experiment.Arms;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe kg questions`: the hallucination experiment's question set from a graph — train.jsonl and
/// heldout.jsonl (split by fact, every phrasing, unanswerable questions about invented names), exclude.jsonl (the
/// held-out facts, for `kg verbalise --exclude`), qa-train.jsonl (the QA tuning data for `finetune`) and questions.json.
/// Hangs under `kg`.</summary>
internal static class KgQuestionsVerb
{
    internal static Command Create()
    {
        var db = KgVerb.DbOption();
        var output = new Option<string>("--out") { Description = "Folder for the question files.", Required = true };
        var seed = new Option<int>("--seed") { Description = "Seed of the sample and the split.", DefaultValueFactory = _ => 1 };
        var perRelation = new Option<int>("--per-relation") { Description = "Facts sampled per relation (each asked in every phrasing).", DefaultValueFactory = _ => 40 };
        var unanswerable = new Option<int?>("--unanswerable-per-relation") { Description = "Invented subjects per relation (default: half of --per-relation)." };
        var fraction = new Option<double>("--heldout-fraction") { Description = "Share of the facts held out of QA tuning.", DefaultValueFactory = _ => 0.5 };
        var relations = new Option<string?>("--relations") { Description = "Comma-separated relation ids (default: every relation with short answers)." };
        var unknown = new Option<string?>("--unknown") { Description = "Invented names (JSONL {name,type}; default: the shipped data/kg/unknown-entities.jsonl.gz)." };
        var drills = new Option<int>("--drills-per-fact") { Description = "Copy drills per training fact: retrieval-shaped examples about invented names whose answer is only in the prompt.", DefaultValueFactory = _ => 2 };
        var budget = new Option<int>("--fact-budget") { Description = "Retrieved facts' budget in the QA tuning prompts (≈ tokens: UTF-8 bytes / 4).", DefaultValueFactory = _ => ExperimentPrompts.DefaultFactBudget };
        var command = new Command("questions", "Write the hallucination experiment's question set and QA tuning data from a graph.")
        {
            db, output, seed, perRelation, unanswerable, fraction, relations, unknown, budget, drills,
        };
        command.SetAction(r => Run(r.GetValue(db)!, r.GetValue(output)!, new QuestionSetOptions
        {
            Seed = r.GetValue(seed), PerRelation = r.GetValue(perRelation), UnanswerablePerRelation = r.GetValue(unanswerable),
            HeldOutFraction = r.GetValue(fraction), Relations = ParseList(r.GetValue(relations)), DrillsPerFact = r.GetValue(drills),
        }, r.GetValue(unknown), r.GetValue(budget)));
        return command;
    }

    internal static IReadOnlyList<string>? ParseList(string? list) =>
        list?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) is { Length: > 0 } names ? names : null;

    static int Run(string dbPath, string outDir, QuestionSetOptions options, string? unknownPath, int factBudget)
    {
        if (factBudget < 0) throw new UserInputException($"kg questions: --fact-budget {factBudget} must be 0 or more");
        unknownPath ??= Path.Combine(RepoPaths.Root(), "data", "kg", "unknown-entities.jsonl.gz");
        var unknown = UnknownEntityFile.Read(unknownPath);
        using var graph = KgVerb.OpenForReading(dbPath);
        QuestionSet set;
        try { set = QuestionSet.Build(graph, unknown, options); }
        catch (ArgumentException e) { throw new UserInputException($"kg questions: {e.Message}"); }
        if (set.HeldOut.Count == 0) throw new UserInputException($"kg questions: {dbPath}: no relation has two or more facts with short answers to ask about");
        var grounding = new KgQuestionGrounding(graph, null, [], factBudget);
        var qa = QaTrainingData.Build(set.Train, row => grounding.RetrievalPrompt(row.Question), set.CopyDrills).ToList();
        QuestionFiles.Write(outDir, set, qa);
        new QuestionManifest
        {
            Graph = dbPath, Seed = options.Seed, PerRelation = options.PerRelation, HeldOutFraction = options.HeldOutFraction, FactBudget = factBudget,
            Relations = set.Relations, TrainQuestions = set.Train.Count, HeldOutQuestions = set.HeldOut.Count,
            HeldOutUnanswerable = set.HeldOut.Count(r => !r.Answerable), HeldOutFacts = set.HeldOutFacts.Count, QaTrainExamples = qa.Count,
        }.Write(outDir);
        Console.Error.WriteLine($"kg questions: {set.Relations.Count} relations; train {set.Train.Count} questions, held out {set.HeldOut.Count} " +
            $"({set.HeldOut.Count(r => !r.Answerable)} unanswerable) from {set.HeldOutFacts.Count} held-out facts; {qa.Count} QA tuning examples in {outDir}");
        BenchSupport.PrintJson(("relations", set.Relations.Count), ("train", set.Train.Count), ("heldout", set.HeldOut.Count),
            ("heldout_unanswerable", set.HeldOut.Count(r => !r.Answerable)), ("heldout_facts", set.HeldOutFacts.Count), ("qa_train", qa.Count), ("out", outDir));
        return 0;
    }
}
