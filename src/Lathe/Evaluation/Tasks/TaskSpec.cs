using System.Text.Json;
using System.Text.RegularExpressions;

namespace Lathe.Evaluation.Tasks;

/// <summary>How a task scores a document, as lm-evaluation-harness names its request types.</summary>
public enum TaskOutputType { MultipleChoice, LogLikelihood, LogLikelihoodRolling, GenerateUntil }

/// <summary>A task file: how a document becomes a prompt, its target, its choices and its metrics (the format is in
/// docs/EVALUATION.md). A task is data, so a user adds one without writing C#.</summary>
public sealed partial class TaskSpec
{
    public required string Name { get; init; }
    public required int Version { get; init; }
    public string Description { get; init; } = "";
    public string Source { get; init; } = "";
    /// <summary>The task file this came from (errors name it).</summary>
    public required string Path { get; init; }
    /// <summary>The documents' JSONL (optionally gzip'd), resolved against the task file's folder.</summary>
    public required string Documents { get; init; }
    /// <summary>Where few-shot examples come from; null: the other documents of <see cref="Documents"/>.</summary>
    public string? FewShotDocuments { get; init; }
    public required TaskOutputType OutputType { get; init; }
    public required TaskTemplate DocToText { get; init; }
    public TaskTemplate? DocToTarget { get; init; }
    /// <summary>multiple_choice: one template naming an array field, or a literal list of templates.</summary>
    public IReadOnlyList<TaskTemplate>? DocToChoice { get; init; }
    public string TargetDelimiter { get; init; } = " ";
    public string FewShotDelimiter { get; init; } = "\n\n";
    public IReadOnlyList<string> Until { get; init; } = [];
    public int MaxTokens { get; init; } = 32;
    public required IReadOnlyList<string> Metrics { get; init; }
    /// <summary>lm-evaluation-harness's apply_chat_template: the prompt goes to the model as a user message through
    /// its chat template (few-shot examples as earlier user/assistant turns), the answer is the assistant's reply, and
    /// generation also stops at the template's end of turn. For chat models (an SFT or aligned policy).</summary>
    public bool ChatTemplate { get; init; }

    /// <summary>The metrics each output type can report; the first ones are the default.</summary>
    public static IReadOnlyList<string> MetricsFor(TaskOutputType type) => type switch
    {
        TaskOutputType.MultipleChoice => ["acc", "acc_norm"],
        TaskOutputType.LogLikelihood => ["perplexity", "acc"],
        TaskOutputType.LogLikelihoodRolling => ["word_perplexity", "byte_perplexity", "bits_per_byte"],
        _ => ["exact_match", "f1"],
    };

    static IReadOnlyList<string> DefaultMetrics(TaskOutputType type) => type == TaskOutputType.GenerateUntil ? ["exact_match"] : MetricsFor(type);

    [GeneratedRegex("^[a-z0-9_]+$")]
    private static partial Regex NamePattern();

    /// <summary>Reads and checks a task file (JSON, or YAML by its .yaml/.yml extension).</summary>
    /// <exception cref="InvalidDataException">A missing or ill-typed field, an unknown output type or metric, a bad
    /// template: one line naming the file and the field.</exception>
    public static TaskSpec Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: task file not found");
        JsonElement root;
        if (path.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".yml", StringComparison.OrdinalIgnoreCase))
            root = YamlToJson.Parse(File.ReadAllText(path), path);
        else try
        {
            byte[] bytes = File.ReadAllBytes(path);
            Lathe.IO.Utf8Validation.Require(bytes, path);
            using var doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            root = doc.RootElement.Clone();
        }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON (line {e.LineNumber + 1}): {FirstLine(e.Message)}"); }
        if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: a task file is one object (a JSON object or a YAML mapping)");
        return FromJson(root, path);
    }

    /// <summary>A task from its parsed JSON object (<paramref name="path"/> names it in errors and anchors relative
    /// document paths).</summary>
    public static TaskSpec FromJson(JsonElement root, string path)
    {
        string folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        string name = RequiredString(root, "task", path);
        if (!NamePattern().IsMatch(name)) throw new InvalidDataException($"{path}: field 'task' {TaskTemplate.Quote(name)} must be lower-case letters, digits and _");
        if (!root.TryGetProperty("version", out var v) || v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int version) || version < 0)
            throw new InvalidDataException($"{path}: field 'version' must be a non-negative integer");
        var type = RequiredString(root, "output_type", path) switch
        {
            "multiple_choice" => TaskOutputType.MultipleChoice,
            "loglikelihood" => TaskOutputType.LogLikelihood,
            "loglikelihood_rolling" => TaskOutputType.LogLikelihoodRolling,
            "generate_until" => TaskOutputType.GenerateUntil,
            var other => throw new InvalidDataException($"{path}: field 'output_type' {TaskTemplate.Quote(other)} is not multiple_choice, loglikelihood, loglikelihood_rolling or generate_until"),
        };
        var docToText = Template(root, "doc_to_text", path, required: type != TaskOutputType.LogLikelihoodRolling) ?? new TaskTemplate("");
        var docToTarget = Template(root, "doc_to_target", path, required: true);
        IReadOnlyList<TaskTemplate>? choices = null;
        if (type == TaskOutputType.MultipleChoice)
        {
            if (!root.TryGetProperty("doc_to_choice", out var c)) throw new InvalidDataException($"{path}: field 'doc_to_choice' is missing (multiple_choice needs it)");
            if (c.ValueKind == JsonValueKind.String)
            {
                var t = Parse(c.GetString()!, "doc_to_choice", path);
                if (!t.IsSingleField) throw new InvalidDataException($"{path}: field 'doc_to_choice' must be \"{{{{field}}}}\" naming an array, or an array of templates");
                choices = [t];
            }
            else if (c.ValueKind == JsonValueKind.Array && c.GetArrayLength() > 0 && c.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String))
                choices = c.EnumerateArray().Select(e => Parse(e.GetString()!, "doc_to_choice", path)).ToList();
            else throw new InvalidDataException($"{path}: field 'doc_to_choice' must be \"{{{{field}}}}\" or a non-empty array of strings");
            if (choices.Count == 1 && !choices[0].IsSingleField) throw new InvalidDataException($"{path}: field 'doc_to_choice' lists one choice; a multiple-choice task needs two or more");
        }
        var until = new List<string>();
        int maxTokens = 32;
        if (root.TryGetProperty("generation", out var g))
        {
            if (g.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: field 'generation' must be an object");
            if (g.TryGetProperty("until", out var u))
            {
                if (u.ValueKind != JsonValueKind.Array || u.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String || e.GetString()!.Length == 0))
                    throw new InvalidDataException($"{path}: field 'generation.until' must be an array of non-empty strings");
                until.AddRange(u.EnumerateArray().Select(e => e.GetString()!));
                if (until.Count > 16) throw new InvalidDataException($"{path}: field 'generation.until' lists {until.Count} strings; at most 16");
            }
            if (g.TryGetProperty("max_tokens", out var m) && (m.ValueKind != JsonValueKind.Number || !m.TryGetInt32(out maxTokens) || maxTokens <= 0))
                throw new InvalidDataException($"{path}: field 'generation.max_tokens' must be a positive integer");
        }
        IReadOnlyList<string> metrics = DefaultMetrics(type);
        if (root.TryGetProperty("metrics", out var ms))
        {
            if (ms.ValueKind != JsonValueKind.Array || ms.GetArrayLength() == 0 || ms.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
                throw new InvalidDataException($"{path}: field 'metrics' must be a non-empty array of metric names");
            metrics = ms.EnumerateArray().Select(e => e.GetString()!).ToList();
            foreach (string metric in metrics)
                if (!MetricsFor(type).Contains(metric))
                    throw new InvalidDataException($"{path}: field 'metrics': {TaskTemplate.Quote(metric)} is not one of {string.Join(", ", MetricsFor(type))} (for {RequiredString(root, "output_type", path)})");
        }
        bool chat = false;
        if (root.TryGetProperty("chat_template", out var ct))
        {
            if (ct.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) throw new InvalidDataException($"{path}: field 'chat_template' must be true or false");
            chat = ct.GetBoolean();
        }
        string documents = RequiredString(root, "documents", path);
        string? fewshot = OptionalString(root, "fewshot_documents", path);
        // Later errors quote these paths: a line break or other control character is refused here.
        foreach (var (field, file) in new[] { ("documents", documents), ("fewshot_documents", fewshot) })
            if (file is not null && (file.Length == 0 || file.Any(char.IsControl)))
                throw new InvalidDataException($"{path}: field '{field}' {TaskTemplate.Quote(file)} is not a file name");
        return new TaskSpec
        {
            Name = name,
            Version = version,
            Description = OptionalString(root, "description", path) ?? "",
            Source = OptionalString(root, "source", path) ?? "",
            Path = path,
            Documents = System.IO.Path.Combine(folder, documents),
            FewShotDocuments = fewshot is null ? null : System.IO.Path.Combine(folder, fewshot),
            OutputType = type,
            DocToText = docToText,
            DocToTarget = docToTarget,
            DocToChoice = choices,
            TargetDelimiter = OptionalString(root, "target_delimiter", path) ?? " ",
            FewShotDelimiter = OptionalString(root, "fewshot_delimiter", path) ?? "\n\n",
            Until = until,
            MaxTokens = maxTokens,
            Metrics = metrics,
            ChatTemplate = chat,
        };
    }

    static TaskTemplate? Template(JsonElement root, string field, string path, bool required)
    {
        string? text = required ? RequiredString(root, field, path) : OptionalString(root, field, path);
        return text is null ? null : Parse(text, field, path);
    }

    static TaskTemplate Parse(string text, string field, string path)
    {
        try { return new TaskTemplate(text); }
        catch (FormatException e) { throw new InvalidDataException($"{path}: field '{field}': {e.Message}"); }
    }

    static string RequiredString(JsonElement root, string field, string path) =>
        OptionalString(root, field, path) ?? throw new InvalidDataException($"{path}: field '{field}' is missing");

    static string? OptionalString(JsonElement root, string field, string path)
    {
        if (!root.TryGetProperty(field, out var e)) return null;
        if (e.ValueKind != JsonValueKind.String) throw new InvalidDataException($"{path}: field '{field}' must be a string");
        return e.GetString();
    }

    static string FirstLine(string s) => s.Split('\n')[0].Trim();
}
