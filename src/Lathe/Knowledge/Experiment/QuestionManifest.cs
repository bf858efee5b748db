using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Lathe.IO;

namespace Lathe.Knowledge.Experiment;

/// <summary>How a question set was made (<c>questions.json</c> beside its files): the options, the relations asked,
/// the counts, and the retrieval prompts' fact budget — which <c>eval hallucination</c> reuses, so its retrieval
/// prompts are the text the QA tuning data taught.</summary>
public sealed record QuestionManifest
{
    public const string FileName = "questions.json";

    [JsonPropertyName("graph")] public string Graph { get; init; } = "";
    [JsonPropertyName("seed")] public int Seed { get; init; }
    [JsonPropertyName("per_relation")] public int PerRelation { get; init; }
    [JsonPropertyName("heldout_fraction")] public double HeldOutFraction { get; init; }
    [JsonPropertyName("fact_budget")] public int FactBudget { get; init; } = ExperimentPrompts.DefaultFactBudget;
    [JsonPropertyName("relations")] public IReadOnlyList<string> Relations { get; init; } = [];
    [JsonPropertyName("train_questions")] public int TrainQuestions { get; init; }
    [JsonPropertyName("heldout_questions")] public int HeldOutQuestions { get; init; }
    [JsonPropertyName("heldout_unanswerable")] public int HeldOutUnanswerable { get; init; }
    [JsonPropertyName("heldout_facts")] public int HeldOutFacts { get; init; }
    [JsonPropertyName("qa_train_examples")] public int QaTrainExamples { get; init; }

    static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public void Write(string dir) => AtomicFile.WriteAllText(Path.Combine(dir, FileName), JsonSerializer.Serialize(this, Json) + "\n");

    /// <summary>The manifest of a question folder, or null when it has none (a hand-made folder: defaults apply).</summary>
    /// <exception cref="InvalidDataException">A manifest that is not valid JSON.</exception>
    public static QuestionManifest? Read(string dir)
    {
        string path = Path.Combine(dir, FileName);
        if (!File.Exists(path)) return null;
        try { return JsonSerializer.Deserialize<QuestionManifest>(File.ReadAllText(path)) ?? throw new InvalidDataException($"{path}: empty"); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not a question manifest ({e.Message.Split('.')[0]})"); }
    }
}
