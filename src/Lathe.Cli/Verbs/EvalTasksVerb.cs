using System.CommandLine;
using System.Diagnostics;
using Lathe.Evaluation.Tasks;
using Lathe.Inference;
using Lathe.Tensors.Threading;
using Lathe.Distributed;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe eval tasks`: runs task files (built-in names from data/tasks/, or paths) on a model, prints the
/// Markdown table, and writes the results document (--output) and the per-document samples (--log-samples).</summary>
internal static class EvalTasksVerb
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Checkpoint folder (or run folder), Hugging Face folder, or .gguf file.", Required = true };
        var tasks = new Option<string>("--tasks") { Description = "Comma-separated task names (data/tasks/NAME.json) or task-file paths.", Required = true };
        var shots = new Option<int>("--shots") { Description = "Few-shot examples before each document.", DefaultValueFactory = _ => 0 };
        var limit = new Option<int?>("--limit") { Description = "Score only the first N documents of each task." };
        var seed = new Option<int>("--seed") { Description = "Seed of the few-shot draw and the bootstrap.", DefaultValueFactory = _ => 1234 };
        var bootstrap = new Option<int>("--bootstrap") { Description = "Bootstrap resamples for the standard errors.", DefaultValueFactory = _ => 1000 };
        var batch = new Option<int>("--batch-tokens") { Description = "Tokens per forward pass when scoring.", DefaultValueFactory = _ => 512 };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var output = new Option<string?>("--output") { Description = "Write the results document (JSON) here, and the Markdown table beside it (.md)." };
        var samples = new Option<string?>("--log-samples") { Description = "Write every document's requests and answers (JSONL) here." };
        var adapter = AdapterOption.Create();
        var template = new Option<string?>("--template") { Description = $"Chat template of tasks marked chat_template: {string.Join(", ", Lathe.Formats.ChatTemplate.Names)} (default: the model's own, else chatml)." };
        var command = new Command("tasks", "Score a model on tasks (multiple choice, log-likelihood, perplexity, generation), with standard errors.")
        {
            model, tasks, shots, limit, seed, bootstrap, batch, threads, output, samples, adapter, template,
        };
        command.SetAction(r => Run(r.GetValue(model)!, r.GetValue(tasks)!, new TaskRunOptions
        {
            Shots = r.GetValue(shots), Limit = r.GetValue(limit), Seed = r.GetValue(seed), BootstrapIterations = r.GetValue(bootstrap),
            BatchTokens = r.GetValue(batch), Template = ParseTemplate(r.GetValue(template)),
        }, r.GetValue(threads), r.GetValue(output), r.GetValue(samples), r.GetValue(adapter)));
        return command;
    }

    static Lathe.Formats.ChatTemplate? ParseTemplate(string? name)
    {
        if (string.IsNullOrEmpty(name)) return null;
        try { return Lathe.Formats.ChatTemplate.Named(name); }
        catch (ArgumentException e) { throw new UserInputException("--template: " + e.Message); }
    }

    static int Run(string modelPath, string taskList, TaskRunOptions options, int threads, string? output, string? samplesPath, string? adapterPath)
    {
        var (json, results) = Evaluate(modelPath, taskList, options, threads, adapterPath, "eval tasks", joinJob: true);
        // Under mpirun every rank holds the same results; rank 0 alone prints and writes.
        if (!Job.LaunchedByMpi || Job.World.IsRoot) Write(json, results, output, samplesPath);
        return 0;
    }

    static void Write(byte[] json, IReadOnlyList<TaskResult> results, string? output, string? samplesPath)
    {
        Console.Write(EvalResults.Markdown(results));
        if (output is not null)
        {
            Lathe.IO.AtomicFile.WriteAllBytes(output, json);
            Lathe.IO.AtomicFile.WriteAllText(Path.ChangeExtension(output, ".md"), EvalResults.Markdown(results));
            Console.Error.WriteLine($"eval tasks: results in {output}");
        }
        if (samplesPath is not null) EvalResults.WriteSamples(samplesPath, results);
    }

    /// <summary>Loads the model, runs the tasks and returns the results document (and the per-task results); `eval
    /// levels --model` runs the suite through here too. <paramref name="taskList"/> null: every built-in task.
    /// <paramref name="joinJob"/>: under mpirun, join the job once the model is loaded and split the scoring over its
    /// ranks (every rank returns the same results; see <see cref="TaskRunner.Run"/>).</summary>
    internal static (byte[] Json, IReadOnlyList<TaskResult> Results) Evaluate(string modelPath, string? taskList, TaskRunOptions options, int threads,
        string? adapterPath, string verb, bool joinJob = false)
    {
        if (options.Shots < 0) throw new UserInputException($"{verb}: --shots {options.Shots} must be 0 or more");
        if (options.Limit is <= 0) throw new UserInputException($"{verb}: --limit {options.Limit} must be positive");
        if (options.BootstrapIterations < 0) throw new UserInputException($"{verb}: --bootstrap {options.BootstrapIterations} must be 0 or more");
        if (options.BatchTokens <= 0) throw new UserInputException($"{verb}: --batch-tokens {options.BatchTokens} must be positive");
        if (threads <= 0) throw new UserInputException($"{verb}: --threads {threads} must be positive");
        var names = taskList?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            ?? Directory.GetFiles(Path.Combine(RepoPaths.Root(), "data", "tasks"), "*.json").Select(f => Path.GetFileNameWithoutExtension(f)).Order().ToArray();
        var specs = new List<TaskSpec>();
        foreach (string name in names)
        {
            try { specs.Add(TaskSpec.Load(Resolve(name, verb))); }
            catch (InvalidDataException e) { throw new UserInputException($"{verb}: {e.Message}"); }
        }
        if (specs.Count == 0) throw new UserInputException($"{verb}: --tasks names no task");
        if (specs.GroupBy(s => s.Name).FirstOrDefault(g => g.Count() > 1) is { } twice) throw new UserInputException($"{verb}: --tasks names '{twice.Key}' twice");
        ComputePool.SetSharedThreads(threads);
        using var loaded = ModelLoader.Load(modelPath);
        if (loaded.Model is not Models.CausalLM) throw new UserInputException($"{verb}: {modelPath} is a {loaded.Model.Config.ModelType} model; tasks score causal language models");
        using var method = AdapterOption.Attach(loaded, adapterPath, verb);
        if (method?.Name == "prompt") throw new UserInputException($"{verb}: --adapter: prompt-tuning adapters are not supported here yet (their rows are not in the scorer's input)");
        // The job starts here, after every local check and the model load; the ranks then agree on what they score.
        var world = joinJob && Job.LaunchedByMpi && Job.World.Size > 1 ? Job.World : SingleProcess.Instance;
        world.CheckAgreement("the model and tasks", $"{loaded.Model.Config.ModelType} {loaded.Model.ParameterCount} parameters; " +
            string.Join(",", specs.Select(s => $"{s.Name} v{s.Version}")) + $"; {options with { Template = null }} template {options.Template?.Name ?? "default"}; adapter {adapterPath ?? "none"}");
        var watch = Stopwatch.StartNew();
        var results = new List<TaskResult>();
        foreach (var spec in specs)
        {
            var started = Stopwatch.StartNew();
            // Progress on a terminal only: redirected stderr (logs, CI) gets the one line per task below.
            Action<string>? progress = Console.IsErrorRedirected || !world.IsRoot ? null : p => Console.Error.Write($"\r{p}   ");
            try { results.Add(TaskRunner.Run(spec, loaded, options, progress, world)); }
            catch (InvalidDataException e) { if (progress is not null) Console.Error.WriteLine(); throw new UserInputException($"{verb}: {e.Message}"); }
            catch (JobFenceException e) { throw new JobFenceException($"{verb}: {e.Message}", e.ExitCode); }
            if (world.IsRoot) Console.Error.WriteLine($"{(progress is null ? "" : "\r")}{verb}: {spec.Name} v{spec.Version}: {results[^1].Samples.Count} documents in {started.Elapsed.TotalSeconds:F1} s");
        }
        return (EvalResults.Json(loaded, options, adapterPath, results, watch.Elapsed.TotalSeconds), results);
    }

    // A name without a path separator or extension is a built-in task (data/tasks/NAME.json in the repository).
    static string Resolve(string name, string verb)
    {
        if (name.Contains('/') || name.Contains('\\') || name.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
            || name.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".yml", StringComparison.OrdinalIgnoreCase)) return name;
        string path = Path.Combine(RepoPaths.Root(), "data", "tasks", name + ".json");
        if (!File.Exists(path))
        {
            IEnumerable<string?> known = Directory.Exists(Path.GetDirectoryName(path)) ? Directory.GetFiles(Path.GetDirectoryName(path)!, "*.json").Select(Path.GetFileNameWithoutExtension).Order() : [];
            throw new UserInputException($"{verb}: --tasks: no built-in task '{name}' (known: {string.Join(", ", known)})");
        }
        return path;
    }
}
