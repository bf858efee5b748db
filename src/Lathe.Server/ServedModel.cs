using Lathe.Formats;
using Lathe.Inference;
using Lathe.Knowledge.Grounding;
using Lathe.Server.OpenAi;

namespace Lathe.Server;

/// <summary>The model behind the API: the engine, the ids clients name it by (the base, and each adapter by its name),
/// the chat template that renders conversations and what ends a chat reply.</summary>
internal sealed class ServedModel
{
    readonly HashSet<string> _adapters;

    public ServedModel(InferenceEngine engine, ServerOptions options)
    {
        Engine = engine;
        var loaded = engine.Model;
        Id = options.ModelName ?? DefaultId(loaded.Source);
        _adapters = new HashSet<string>(engine.Adapters?.Names ?? [], StringComparer.Ordinal);
        if (_adapters.Contains(Id))
            throw new ArgumentException($"model name '{Id}' is also an adapter's name; give the base another with --name.");
        Template = options.Template is { } name ? ChatTemplate.Named(name) : ModelChatTemplate.For(loaded);
        VocabSize = loaded.Model.Config.VocabSize;
        Tokens = new TokenText(loaded.Tokenizer, VocabSize);
        // A reply ends at the template's end-of-turn marker: as a token when the tokenizer has it as one, else as text.
        var stopTokens = new List<int>();
        var stopStrings = new List<string>();
        foreach (string end in Template.EndOfTurn)
            if (loaded.SpecialId(end) is int id) stopTokens.Add(id); else stopStrings.Add(end);
        ChatStopTokens = stopTokens;
        ChatStopStrings = stopStrings;
        if (options.Knowledge is { } kg)
        {
            // The linker indexes every name of the graph once, here, not per request.
            GroundingStops = [.. engine.StopTokens, .. stopTokens];
            Grounding = new KgGrounding(kg.Graph, loaded.Tokenizer, GroundingStops, kg.FactBudgetTokens);
            GroundingMode = kg.Mode;
        }
        Created = OpenAiJson.UnixNow();
    }

    public InferenceEngine Engine { get; }
    public LoadedModel Loaded => Engine.Model;
    public string Id { get; }
    public ChatTemplate Template { get; }
    /// <summary>The model's vocabulary size (token ids and logit_bias keys are checked against it).</summary>
    public int VocabSize { get; }
    public TokenText Tokens { get; }
    public IReadOnlyList<int> ChatStopTokens { get; }
    public IReadOnlyList<string> ChatStopStrings { get; }
    /// <summary>The knowledge-graph grounding of chat completions (<c>serve --kg</c>), or null.</summary>
    public KgGrounding? Grounding { get; }
    public GroundingMode GroundingMode { get; }
    /// <summary>The ids a grounded reply may end on (the engine's and the template's end of turn).</summary>
    public IReadOnlyCollection<int> GroundingStops { get; } = [];
    /// <summary>When the server started serving it (unix seconds), as /v1/models reports.</summary>
    public long Created { get; }

    /// <summary>Every model id, the base first, then the adapters by name.</summary>
    public IEnumerable<string> Ids => [Id, .. _adapters.Order(StringComparer.Ordinal)];

    /// <summary>The adapter a request's <c>model</c> selects: null for the base (or no model given), its name for an
    /// adapter; any other id is OpenAI's 404 model_not_found.</summary>
    public string? AdapterFor(string? model)
    {
        if (model is null || model == Id) return null;
        if (_adapters.Contains(model)) return model;
        throw NotFound(model);
    }

    public bool Knows(string model) => model == Id || _adapters.Contains(model);

    public static ApiException NotFound(string model) =>
        new(404, $"The model '{model}' does not exist or you do not have access to it.", "model", "model_not_found");

    // The file name of a GGUF, the folder name of a checkpoint (its run folder's when it is run/checkpoint).
    static string DefaultId(string source)
    {
        string path = Path.TrimEndingDirectorySeparator(Path.GetFullPath(source));
        if (File.Exists(path)) return Path.GetFileNameWithoutExtension(path);
        string name = Path.GetFileName(path);
        if (name is Checkpoint.Folder or Checkpoint.Folder + ".old")
            name = Path.GetFileName(Path.GetDirectoryName(path)) ?? name;
        return string.IsNullOrEmpty(name) ? "lathe" : name;
    }
}
