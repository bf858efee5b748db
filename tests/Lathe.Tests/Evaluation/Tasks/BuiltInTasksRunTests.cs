using Lathe.Evaluation.Tasks;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tokenizers;

namespace Lathe.Tests.Evaluation.Tasks;

/// <summary>Every built-in task in data/tasks/ loads through the harness and runs its first documents on a small model:
/// templates, choices and gold answers fit what the harness reads, and each reports its metrics.</summary>
public class BuiltInTasksRunTests
{
    static string TasksFolder()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Lathe.sln"))) return Path.Combine(d.FullName, "data", "tasks");
        throw new DirectoryNotFoundException("no Lathe.sln above the test binary");
    }

    public static TheoryData<string> Names() => new(Directory.GetFiles(TasksFolder(), "*.json").Select(Path.GetFileNameWithoutExtension).Order()!);

    [Theory]
    [MemberData(nameof(Names))]
    public void A_built_in_task_runs_through_the_harness(string name)
    {
        var spec = TaskSpec.Load(Path.Combine(TasksFolder(), name + ".json"));
        Assert.Equal(name, spec.Name);
        var tokenizer = new BpeTrainer(260, ["<|endoftext|>"], minFrequency: 1).Train(["the capital of a country is a city. spam or ham?"]);
        using var loaded = new LoadedModel(CausalLM.Create(new ModelConfig
        {
            ModelType = "gpt2", VocabSize = 260, MaxPositions = 1024, Embd = 16, Layers = 1, Heads = 1, KvHeads = 1, Intermediate = 32,
        }, 3), tokenizer, eosId: 256);
        var result = TaskRunner.Run(spec, loaded, new TaskRunOptions { Limit = 3, Shots = 1, BootstrapIterations = 10 });
        Assert.Equal(3, result.Samples.Count);
        Assert.Equal(spec.Metrics, result.Metrics.Keys);
        Assert.All(result.Metrics.Values, m => Assert.True(double.IsFinite(m.Value), $"{name}: {m}"));
    }
}
