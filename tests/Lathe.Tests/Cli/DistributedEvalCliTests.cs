using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lathe.Formats;
using Lathe.Models;
using Lathe.Tokenizers;

namespace Lathe.Tests.Cli;

/// <summary>`mpirun -np K lathe eval tasks` and `eval loss`: the requests are split over the ranks and the results
/// document and samples are the single process's byte for byte (apart from the timing field); `eval loss` gives the
/// single process's bits (its batches' sums are gathered and added in batch order). K = 2, and K = 3 over Open MPI's
/// TCP transport (an uneven split).</summary>
[Collection("mpirun")]
public sealed class DistributedEvalCliTests : IDisposable
{
    readonly LatheProcess _cli = new();
    public void Dispose() => _cli.Dispose();

    const string Corpus = Lathe.Tests.Evaluation.Tasks.EvalTasksCliTests.Corpus;

    // A small GPT-2 checkpoint with random weights (the results are compared, not judged).
    string Checkpoint() => Lathe.Tests.Evaluation.Tasks.EvalTasksCliTests.Checkpoint(_cli, 48);

    // Every request type, with enough documents for several scorer passes at --batch-tokens 48.
    string Tasks()
    {
        string[] countries = ["france", "italy", "germany", "spain", "portugal", "austria", "greece", "norway", "sweden", "poland", "ireland"];
        File.WriteAllLines(_cli.PathOf("capitals.jsonl"), countries.Select((c, i) => $$"""{"country":"{{c}}","choices":["paris","rome","berlin","madrid"],"answer":{{i % 4}}}"""));
        File.WriteAllText(_cli.PathOf("capitals.json"), """
            { "task": "capitals", "version": 1, "documents": "capitals.jsonl", "output_type": "multiple_choice",
              "doc_to_text": "the capital of {{country}} is", "doc_to_target": "{{answer}}", "doc_to_choice": "{{choices}}" }
            """);
        string[] facts = ["two plus two is|four", "three plus four is|seven", "the whale swam|east", "the ship sailed|west", "the whale swam|west",
            "paris is the capital of|france", "rome is the|capital", "spam offers|money now", "ham says see you|at lunch"];
        File.WriteAllLines(_cli.PathOf("facts.jsonl"), facts.Select(f => $$"""{"q":"{{f.Split('|')[0]}}","a":"{{f.Split('|')[1]}}"}"""));
        File.WriteAllText(_cli.PathOf("facts.json"), """
            { "task": "facts", "version": 1, "documents": "facts.jsonl", "output_type": "loglikelihood", "doc_to_text": "{{q}}", "doc_to_target": "{{a}}" }
            """);
        // Texts longer than the window (48 tokens): several rolling windows, some in passes of their own.
        File.WriteAllLines(_cli.PathOf("prose.jsonl"), Enumerable.Range(1, 5).Select(n => $$"""{"text":"{{string.Join(' ', Enumerable.Repeat(Corpus, n))}}"}"""));
        File.WriteAllText(_cli.PathOf("prose.json"), """
            { "task": "prose", "version": 1, "documents": "prose.jsonl", "output_type": "loglikelihood_rolling", "doc_to_target": "{{text}}" }
            """);
        File.WriteAllText(_cli.PathOf("sums.json"), """
            { "task": "sums", "version": 1, "documents": "facts.jsonl", "output_type": "generate_until",
              "doc_to_text": "{{q}}", "doc_to_target": "{{a}}", "generation": { "until": ["."], "max_tokens": 6 }, "metrics": ["exact_match", "f1"] }
            """);
        return "capitals.json,facts.json,prose.json,sums.json";
    }

    [Theory]
    [InlineData(2, false)]
    [InlineData(3, true)]
    public void Eval_tasks_over_ranks_writes_the_single_process_results(int ranks, bool tcp)
    {
        string model = Checkpoint(), tasks = Tasks();
        string[] common = ["eval", "tasks", "--model", model, "--tasks", tasks, "--shots", "1", "--bootstrap", "200", "--batch-tokens", "48", "--threads", "1"];
        string table = _cli.RunOk([.. common, "--output", "one.json", "--log-samples", "one.jsonl"]);
        string mpiTable = MpiRun.Ok(_cli, ranks, tcp, [.. common, "--output", "many.json", "--log-samples", "many.jsonl"]);
        Assert.Equal(table, mpiTable);   // rank 0 alone prints the table
        Assert.Equal(WithoutTiming(File.ReadAllText(_cli.PathOf("one.json"))), WithoutTiming(File.ReadAllText(_cli.PathOf("many.json"))));
        Assert.Equal(File.ReadAllText(_cli.PathOf("one.jsonl")), File.ReadAllText(_cli.PathOf("many.jsonl")));
        Assert.Equal(File.ReadAllText(_cli.PathOf("one.md")), File.ReadAllText(_cli.PathOf("many.md")));
        Assert.Equal(4 * 11 + 9 + 5, File.ReadAllLines(_cli.PathOf("one.jsonl")).Sum(l => JsonNode.Parse(l)!["loglikelihoods"]!.AsArray().Count));
    }

    [Theory]
    [InlineData(2, false)]
    [InlineData(3, true)]
    public void Eval_loss_over_ranks_agrees_with_one_process(int ranks, bool tcp)
    {
        string model = Checkpoint();
        File.WriteAllText(_cli.PathOf("text.txt"), string.Join(' ', Enumerable.Repeat(Corpus, 6)));
        string[] args = ["eval", "loss", "--model", model, "--input", "text.txt", "--batch-size", "2", "--block-size", "16", "--threads", "1", "--json"];
        var one = JsonNode.Parse(_cli.RunOk(args))!;
        string output = MpiRun.Ok(_cli, ranks, tcp, args);
        Assert.Single(output.Trim().Split('\n'));   // rank 0 alone prints
        var many = JsonNode.Parse(output)!;
        Assert.Equal((long)one["tokens"]!, (long)many["tokens"]!);
        // Each batch is scored alike, and the batches' sums are added in batch order, as one process adds them.
        Assert.Equal((double)one["loss"]!, (double)many["loss"]!);
        Assert.Equal((double)one["bits_per_byte"]!, (double)many["bits_per_byte"]!);
    }

    [Fact]
    public void A_bad_document_stops_every_rank_with_one_line()
    {
        string model = Checkpoint();
        File.WriteAllText(_cli.PathOf("d.jsonl"), "{\"q\":\"a\",\"answer\":\"b\"}\n{\"q\":\"a\"}\n");
        File.WriteAllText(_cli.PathOf("x.json"), """
            { "task": "x", "version": 1, "documents": "d.jsonl", "output_type": "loglikelihood", "doc_to_text": "{{q}}", "doc_to_target": "{{answer}}" }
            """);
        var (code, _, stderr) = MpiRun.Run(_cli, 2, false, "eval", "tasks", "--model", model, "--tasks", "x.json", "--threads", "1");
        Assert.Equal(2, code);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => l.Contains("lathe:")).ToArray();
        Assert.True(lines.Length == 1, stderr);
        Assert.Contains("eval tasks: ", lines[0]);
        Assert.Contains("line 2: doc_to_target: field 'answer' is missing", lines[0]);
    }

    static string WithoutTiming(string json)
    {
        var node = JsonNode.Parse(json)!.AsObject();
        Assert.True(node.Remove("seconds"));
        return node.ToJsonString();
    }
}

/// <summary>The distributed CLI tests' shorthand for <see cref="LatheProcess.RunMpi"/>; <c>tcp</c> forces Open MPI's TCP
/// transport over the loopback interface.</summary>
internal static class MpiRun
{
    /// <summary>Exit code, stdout and stderr of the job.</summary>
    public static (int Code, string Stdout, string Stderr) Run(LatheProcess lathe, int ranks, bool tcp, params string[] args) =>
        lathe.RunMpi(ranks, tcp ? ["--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", "lo"] : [], args);

    /// <summary>Runs the job and asserts exit code 0; returns its stdout.</summary>
    public static string Ok(LatheProcess lathe, int ranks, bool tcp, params string[] args)
    {
        var (code, stdout, stderr) = Run(lathe, ranks, tcp, args);
        Assert.True(code == 0, $"mpirun -np {ranks} lathe {string.Join(' ', args)} exited {code}: {stderr}");
        return stdout;
    }
}
