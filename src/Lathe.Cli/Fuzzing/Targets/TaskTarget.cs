using System.Text;
using Lathe.Evaluation.Tasks;
using Lathe.Inference;

namespace Lathe.Cli.Fuzzing.Targets;

/// <summary>An evaluation task (task file + JSONL documents) as `eval tasks --tasks FILE` runs it:
/// <see cref="TaskSpec.Load"/>, then <see cref="TaskRunner.Run"/> on a tiny model (documents read, requests built,
/// scored, metrics aggregated). Seeds: a JSON multiple-choice task and a YAML rolling-log-likelihood task, each with
/// a few documents.</summary>
internal sealed class TaskTarget : FuzzTarget
{
    public override string Name => "task";
    LoadedModel? _model;

    const string ChoiceTask = """
        {
          "task": "keeper_capital",
          "version": 1,
          "documents": "docs.jsonl",
          "output_type": "multiple_choice",
          "doc_to_text": "Q: What is the capital of {{country}}?\nA:",
          "doc_to_target": "{{answer}}",
          "doc_to_choice": "{{choices}}",
          "target_delimiter": " ",
          "metrics": ["acc", "acc_norm"]
        }
        """;

    const string ChoiceDocs =
        """{"country":"France","choices":["Paris","Lyon","Nice","Lille"],"answer":0}""" + "\n" +
        """{"country":"Japan","choices":["Osaka","東京","Kyoto","Nara"],"answer":1}""" + "\n" +
        """{"country":"Peru","choices":["Cusco","Arequipa","Lima","Puno"],"answer":2}""" + "\n";

    const string RollingTask = """
        task: keeper_bpb
        version: 2
        description: "bits per byte on a keeper's log"
        documents: docs.jsonl
        output_type: loglikelihood_rolling
        doc_to_target: "{{text}}"
        metrics:
          - word_perplexity
          - bits_per_byte
        """;

    const string RollingDocs =
        """{"text":"The lighthouse keeper wrote the weather into the log."}""" + "\n" +
        """{"text":"Ships passed at night with their lamps low."}""" + "\n";

    protected override IReadOnlyList<FuzzSeed> MakeSeeds(string workDir)
    {
        string model = FuzzSeeds.WriteCheckpoint(Path.Combine(workDir, "model"), FuzzSeeds.Gpt2 with { MaxPositions = 64 }, FuzzSeeds.Bpe());
        _model?.Dispose();
        _model = ModelLoader.Load(model);
        return [Seed("json-choice", "task.json", ChoiceTask, ChoiceDocs, JsonMutators.All), Seed("yaml-rolling", "task.yaml", RollingTask, RollingDocs, LineMutators.All)];
    }

    static FuzzSeed Seed(string name, string taskFile, string task, string docs, IReadOnlyList<Mutator> taskMutators) =>
        new(name, new Dictionary<string, byte[]> { [taskFile] = Encoding.UTF8.GetBytes(task), ["docs.jsonl"] = Encoding.UTF8.GetBytes(docs) },
            new Dictionary<string, IReadOnlyList<Mutator>> { [taskFile] = taskMutators, ["docs.jsonl"] = LineMutators.Jsonl });

    public override void Run(string caseDir, FuzzSeed seed)
    {
        string file = seed.Files.ContainsKey("task.json") ? "task.json" : "task.yaml";
        var task = TaskSpec.Load(Path.Combine(caseDir, file));
        _ = TaskRunner.Run(task, _model!, new TaskRunOptions { BootstrapIterations = 20, Parallel = 2 });
    }

    public override void Dispose() => _model?.Dispose();
}
