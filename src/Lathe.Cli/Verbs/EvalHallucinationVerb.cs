using System.CommandLine;
using System.Diagnostics;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Knowledge.Experiment;
using Lathe.Knowledge.Experiment.Arms;
using Lathe.Tensors.Threading;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe eval hallucination`: every model × arm (alone, retrieval, constrained, checked) on a question set's
/// held-out questions → hallucination.json, .md, .html (with plots, also as SVG and PNG files) and the answers
/// (hallucination-samples.jsonl.gz). Hangs under `eval`.</summary>
internal static class EvalHallucinationVerb
{
    internal static Command Create()
    {
        var models = new Option<string>("--model") { Description = "Comma-separated models (checkpoint or run folders), each optionally LABEL=DIR; a label 'series/name' groups models into one line of the plots.", Required = true };
        var kg = new Option<string>("--kg") { Description = "The graph (a database from `kg import`).", Required = true };
        var questions = new Option<string>("--questions") { Description = "A folder from `kg questions` (heldout.jsonl is asked).", Required = true };
        var arms = new Option<string>("--arms") { Description = $"Comma-separated arms: {string.Join(", ", HallucinationArms.Names)}.", DefaultValueFactory = _ => string.Join(",", HallucinationArms.Names) };
        var limit = new Option<int?>("--limit") { Description = "Ask only N of the held-out questions (evenly spaced through the file, so every relation keeps its share)." };
        var output = new Option<string>("--out") { Description = "Folder for the report files.", Required = true };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Most tokens of an answer.", DefaultValueFactory = _ => 24 };
        var parallel = new Option<int>("--parallel") { Description = "Answers generated at once (the engine's parallel sequences).", DefaultValueFactory = _ => 16 };
        var budget = new Option<int?>("--fact-budget") { Description = "Retrieved facts' budget (default: the question set's, from its questions.json)." };
        var bootstrap = new Option<int>("--bootstrap") { Description = "Bootstrap resamples for the standard errors.", DefaultValueFactory = _ => 1000 };
        var seed = new Option<int>("--seed") { Description = "Seed of the bootstrap.", DefaultValueFactory = _ => 1234 };
        var template = new Option<string?>("--template") { Description = $"Chat template the prompts are rendered with: {string.Join(", ", ChatTemplate.Names)} (default: the model's own, else chatml — what finetune used)." };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var command = new Command("hallucination", "Measure hallucination, accuracy, abstention and calibration of models alone and grounded in a knowledge graph.")
        {
            models, kg, questions, arms, limit, output, maxTokens, parallel, budget, bootstrap, seed, template, threads,
        };
        command.SetAction(r => Run(new Settings(r.GetValue(models)!, r.GetValue(kg)!, r.GetValue(questions)!, r.GetValue(arms)!, r.GetValue(limit),
            r.GetValue(output)!, r.GetValue(maxTokens), r.GetValue(parallel), r.GetValue(budget), r.GetValue(bootstrap), r.GetValue(seed),
            r.GetValue(template), r.GetValue(threads))));
        return command;
    }

    sealed record Settings(string Models, string Kg, string Questions, string Arms, int? Limit, string Out, int MaxTokens, int Parallel,
        int? FactBudget, int Bootstrap, int Seed, string? Template, int Threads);

    const string Verb = "eval hallucination";

    static int Run(Settings s)
    {
        // Everything is checked before the first model loads.
        if (s.Limit is <= 0) throw new UserInputException($"{Verb}: --limit {s.Limit} must be positive");
        if (s.MaxTokens <= 0) throw new UserInputException($"{Verb}: --max-tokens {s.MaxTokens} must be positive");
        if (s.Parallel <= 0) throw new UserInputException($"{Verb}: --parallel {s.Parallel} must be positive");
        if (s.Bootstrap < 0) throw new UserInputException($"{Verb}: --bootstrap {s.Bootstrap} must be 0 or more");
        if (s.Threads <= 0) throw new UserInputException($"{Verb}: --threads {s.Threads} must be positive");
        if (s.FactBudget is < 0) throw new UserInputException($"{Verb}: --fact-budget {s.FactBudget} must be 0 or more");
        var armNames = KgQuestionsVerb.ParseList(s.Arms) ?? throw new UserInputException($"{Verb}: --arms names no arm");
        foreach (string a in armNames)
            if (!HallucinationArms.Names.Contains(a)) throw new UserInputException($"{Verb}: --arms: '{a}' is not one of {string.Join(", ", HallucinationArms.Names)}");
        if (armNames.Distinct().Count() != armNames.Count) throw new UserInputException($"{Verb}: --arms names an arm twice");
        var models = ParseModels(s.Models);
        ChatTemplate? forced = null;
        if (!string.IsNullOrEmpty(s.Template))
        {
            try { forced = ChatTemplate.Named(s.Template); }
            catch (ArgumentException e) { throw new UserInputException($"{Verb}: --template: {e.Message}"); }
        }
        if (!Directory.Exists(s.Questions)) throw new UserInputException($"{Verb}: --questions {s.Questions}: no such folder");
        var manifest = QuestionManifest.Read(s.Questions);
        int factBudget = s.FactBudget ?? manifest?.FactBudget ?? ExperimentPrompts.DefaultFactBudget;
        string heldOutPath = Path.Combine(s.Questions, QuestionFiles.HeldOutFile);
        if (!File.Exists(heldOutPath)) throw new UserInputException($"{Verb}: --questions {s.Questions}: no {QuestionFiles.HeldOutFile} (write it with `lathe kg questions`)");
        var heldOut = QuestionFiles.Read(heldOutPath);
        if (heldOut.Count == 0) throw new UserInputException($"{Verb}: {heldOutPath}: no questions");
        var asked = s.Limit is int n && n < heldOut.Count ? Enumerable.Range(0, n).Select(i => heldOut[(int)((long)i * heldOut.Count / n)]).ToList() : heldOut;
        using var graph = KgVerb.OpenForReading(s.Kg);

        ComputePool.SetSharedThreads(s.Threads);
        var watch = Stopwatch.StartNew();
        var results = new List<HallucinationResult>();
        foreach (var (label, path) in models)
        {
            var started = Stopwatch.StartNew();
            using var loaded = ModelLoader.Load(path);
            if (loaded.Model is not Lathe.Models.CausalLM) throw new UserInputException($"{Verb}: {path} is a {loaded.Model.Config.ModelType} model; the experiment asks decoders");
            var template = forced ?? ChatTemplate.Detect(loaded.ChatTemplate);
            var stops = new HashSet<int>(loaded.StopIds);
            foreach (string end in template.EndOfTurn)
                if (loaded.SpecialId(end) is int id) stops.Add(id);
            var grounding = new KgQuestionGrounding(graph, loaded.Tokenizer, stops, factBudget);
            var generator = new EngineAnswerGenerator(loaded, template, s.MaxTokens, s.Parallel);
            foreach (var arm in HallucinationArms.Create(armNames, generator, grounding))
            {
                var answers = arm.Answer(asked);
                var metrics = HallucinationMetrics.Compute(answers, s.Bootstrap, s.Seed);
                results.Add(new HallucinationResult(label, path, loaded.Model.ParameterCount, arm.Name, metrics, answers));
                Console.Error.WriteLine($"{Verb}: {label} {arm.Name}: accuracy {HallucinationReport.Cell(metrics.Accuracy)}, hallucination {HallucinationReport.Cell(metrics.Hallucination)}, " +
                    $"abstention {HallucinationReport.Cell(metrics.Abstention)} ({started.Elapsed.TotalSeconds:F1} s)");
            }
        }
        var run = new HallucinationRun(s.Questions, s.Kg, s.Limit ?? 0, results, watch.Elapsed.TotalSeconds);
        var written = HallucinationReport.WriteAll(s.Out, run);
        Console.Write(HallucinationReport.Markdown(run));
        Console.Error.WriteLine($"{Verb}: {asked.Count} questions × {models.Count} models × {armNames.Count} arms in {watch.Elapsed.TotalSeconds:F1} s; {written.Count} files in {s.Out}");
        return 0;
    }

    /// <summary>LABEL=DIR or DIR (the label is then the folder's name), comma-separated; labels must differ.</summary>
    internal static List<(string Label, string Path)> ParseModels(string list)
    {
        var models = new List<(string Label, string Path)>();
        foreach (string item in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = item.IndexOf('=');
            string path = eq >= 0 ? item[(eq + 1)..] : item;
            string label = eq >= 0 ? item[..eq] : Path.GetFileName(Path.TrimEndingDirectorySeparator(path));
            if (label.Length == 0 || path.Length == 0) throw new UserInputException($"{Verb}: --model: '{item}' is not LABEL=DIR or DIR");
            if (!Directory.Exists(path) && !File.Exists(path)) throw new UserInputException($"{Verb}: --model {path}: no such folder or file");
            if (models.Any(m => m.Label == label)) throw new UserInputException($"{Verb}: --model: the label '{label}' is used twice");
            models.Add((label, path));
        }
        if (models.Count == 0) throw new UserInputException($"{Verb}: --model names no model");
        return models;
    }
}
