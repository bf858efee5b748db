using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Lathe.Cli;
using Lathe.Cli.Verbs;
using Lathe.Tests.Cli;
using Lathe.Tests.Data;

namespace Lathe.Tests.Knowledge.Experiment;

/// <summary>The experiment's chain as scripts/kg/experiment.sh --quick runs it, in process on the shipped graph with tiny
/// models: kg import → kg questions → kg verbalise (with and without the held-out facts) → tokenizer train → data
/// prepare → pretrain → finetune → eval hallucination; the report's files and their contents; and the verbs' one-line
/// exit-2 refusals of bad input.</summary>
[Collection(nameof(ConsoleCapture))]
public class HallucinationCliTests
{
    const string Relations = "capital,continent,symbol";

    static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var root = new Command("lathe")
        {
            new Command("kg") { KgImportVerb.Create(), KgVerbaliseVerb.Create(), KgQuestionsVerb.Create() },
            new Command("eval") { EvalHallucinationVerb.Create() },
            TokenizerVerb.Create(), DataVerb.Create(), PretrainVerb.Create(), FinetuneVerb.Create(),
        };
        using var capture = new ConsoleCapture();
        int code = CliRunner.Run(root, args);
        return (code, capture.Stdout, capture.Stderr);
    }

    static string Ok(params string[] args)
    {
        var (code, stdout, stderr) = Run(args);
        Assert.True(code == 0, $"lathe {string.Join(' ', args)} exited {code}: {stderr}");
        return stdout;
    }

    [Fact]
    public void The_quick_chain_runs_from_the_shipped_graph_to_the_report()
    {
        using var dir = new TempDir();
        string F(string name) => dir.File(name);
        Ok("kg", "import", "--db", F("graph.db"));
        using (var q = JsonDocument.Parse(Ok("kg", "questions", "--db", F("graph.db"), "--out", F("q"), "--relations", Relations, "--per-relation", "6", "--fact-budget", "48")))
        {
            Assert.Equal(3, q.RootElement.GetProperty("relations").GetInt32());
            Assert.True(q.RootElement.GetProperty("heldout_unanswerable").GetInt32() > 0);
        }
        foreach (string file in new[] { "train.jsonl", "heldout.jsonl", "exclude.jsonl", "qa-train.jsonl", "questions.json" }) Assert.True(File.Exists(F("q/" + file)), file);
        Ok("kg", "verbalise", "--db", F("graph.db"), "--out", F("inject.txt"), "--relations", Relations);
        Ok("kg", "verbalise", "--db", F("graph.db"), "--out", F("plain.txt"), "--relations", Relations, "--exclude", F("q/exclude.jsonl"));
        // The held-out capital facts are in the injection corpus only.
        var held = File.ReadLines(F("q/heldout.jsonl")).Select(l => JsonDocument.Parse(l).RootElement)
            .First(r => r.GetProperty("answerable").GetBoolean() && r.GetProperty("relation").GetString() == "capital");
        string answer = held.GetProperty("answers")[0].GetString()!;
        string sentenceEnd = $" is {answer}.";
        Assert.Contains(File.ReadAllText(F("inject.txt")).Split('\n'), line => line.Contains("The capital of") && line.Contains(sentenceEnd));
        Ok("tokenizer", "train", "--vocab", "400", "--input", F("inject.txt"), F("q/qa-train.jsonl"), "--output", F("tok.json"),
            "--special", "<|endoftext|>", "<|im_start|>", "<|im_end|>");
        var models = new List<string>();
        foreach (string corpus in new[] { "inject", "plain" })
        {
            Ok("data", "prepare", "--source", F(corpus + ".txt"), "--out", F("data-" + corpus), "--tokenizer", F("tok.json"), "--min-words", "1",
                "--no-exact-dedup", "--no-near-dedup", "--no-quality-filter", "--val-fraction", "0", "--threads", "1");
            Ok("pretrain", "--config", "gpt2-tiny", "--n-embd", "32", "--n-layer", "1", "--n-head", "2", "--n-positions", "256", "--data", F("data-" + corpus),
                "--out", F("pre-" + corpus), "--threads", "1", "--steps", "3", "--batch-size", "2", "--block-size", "64", "--warmup", "1", "--eval-every", "0");
            Ok("finetune", "--model", F("pre-" + corpus), "--data", F("q/qa-train.jsonl"), "--method", "full", "--val-fraction", "0.05", "--out", F("qa-" + corpus),
                "--threads", "1", "--steps", "2", "--batch-size", "2", "--block-size", "128");
            models.Add($"{corpus}/xs={F("qa-" + corpus)}");
        }
        string table = Ok("eval", "hallucination", "--model", string.Join(",", models), "--kg", F("graph.db"), "--questions", F("q"), "--out", F("report"),
            "--limit", "10", "--threads", "1", "--bootstrap", "20");
        Assert.Contains("| inject/xs |", table);

        using var report = JsonDocument.Parse(File.ReadAllText(F("report/hallucination.json")));
        var results = report.RootElement.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(8, results.Count);   // 2 models × 4 arms
        Assert.Equal(["alone", "retrieval", "constrained", "checked"], results.Take(4).Select(r => r.GetProperty("arm").GetString()));
        foreach (var r in results)
        {
            Assert.Equal(10, r.GetProperty("questions").GetInt32());
            var m = r.GetProperty("metrics");
            foreach (string name in new[] { "accuracy", "hallucination", "hallucination_answerable", "hallucination_unanswerable", "abstention", "ece" })
                Assert.True(m.TryGetProperty(name, out var v) && v.TryGetProperty("value", out _), name);
            Assert.True(r.GetProperty("params").GetInt64() > 0);
            Assert.Equal(10, r.GetProperty("reliability").GetArrayLength());
        }
        // Constrained decoding answers only with the graph's values or abstains: no wrong answer to an answerable question.
        foreach (var r in results.Where(r => r.GetProperty("arm").GetString() == "constrained"))
            Assert.Equal(0, r.GetProperty("metrics").GetProperty("hallucination_answerable").GetProperty("value").GetDouble());
        using (var gz = new System.IO.Compression.GZipStream(File.OpenRead(F("report/hallucination-samples.jsonl.gz")), System.IO.Compression.CompressionMode.Decompress))
            Assert.Equal(80, new StreamReader(gz).ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        string html = File.ReadAllText(F("report/hallucination.html"));
        Assert.Equal(3, html.Split("<svg").Length - 1);
        Assert.Contains("inject/xs", html);
        foreach (string png in new[] { "hallucination-vs-params.png", "accuracy-vs-params.png", "reliability.png" })
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(F("report/" + png))[..4]);
        // The results table (header, rule, 8 rows) and the goal table (header, rule, 2 models × 3 grounded arms).
        Assert.Equal(2 + 8 + 2 + 6, File.ReadAllText(F("report/hallucination.md")).Split('\n').Count(l => l.StartsWith('|')));

        // Every metric recomputed from the answers by an independent script.
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(Peers.RepoRoot, "scripts", "kg", "check_metrics.py"));
        psi.ArgumentList.Add(F("report"));
        using var p = Process.Start(psi)!;
        string check = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, check);
        Assert.Equal(8, check.Split('\n').Count(l => l.EndsWith(": ok")));
    }

    [Fact]
    public void Bad_input_is_one_line_and_exit_2()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("q"));
        Directory.CreateDirectory(dir.File("m"));
        foreach (var (args, expected) in new (string[], string)[]
        {
            (["kg", "questions", "--db", dir.File("none.db"), "--out", dir.File("q")], $"lathe: {dir.File("none.db")}: no such graph file (build one with `lathe kg import`)"),
            (["eval", "hallucination", "--model", dir.File("m"), "--kg", dir.File("none.db"), "--questions", dir.File("q"), "--out", dir.File("r"), "--arms", "alone,oracle"],
                "lathe: eval hallucination: --arms: 'oracle' is not one of alone, retrieval, constrained, checked"),
            (["eval", "hallucination", "--model", $"a={dir.File("m")},a={dir.File("m")}", "--kg", dir.File("none.db"), "--questions", dir.File("q"), "--out", dir.File("r")],
                "lathe: eval hallucination: --model: the label 'a' is used twice"),
            (["eval", "hallucination", "--model", dir.File("nope"), "--kg", dir.File("none.db"), "--questions", dir.File("q"), "--out", dir.File("r")],
                $"lathe: eval hallucination: --model {dir.File("nope")}: no such folder or file"),
            (["eval", "hallucination", "--model", dir.File("m"), "--kg", dir.File("none.db"), "--questions", dir.File("q"), "--out", dir.File("r")],
                $"lathe: eval hallucination: --questions {dir.File("q")}: no heldout.jsonl (write it with `lathe kg questions`)"),
            (["eval", "hallucination", "--model", dir.File("m"), "--kg", dir.File("none.db"), "--questions", dir.File("q"), "--out", dir.File("r"), "--limit", "0"],
                "lathe: eval hallucination: --limit 0 must be positive"),
        })
        {
            var (code, stdout, stderr) = Run(args);
            Assert.Equal((2, expected), (code, stderr.Trim()));
            Assert.Equal("", stdout);
        }
        // A malformed question row names its file and line; nothing is written.
        File.WriteAllText(dir.File("q/heldout.jsonl"), "{\"id\":\"x\"}\n");
        var (c, _, err) = Run("eval", "hallucination", "--model", dir.File("m"), "--kg", dir.File("none.db"), "--questions", dir.File("q"), "--out", dir.File("r"));
        Assert.Equal((2, $"lathe: {dir.File("q/heldout.jsonl")}:1: field 'answers' must be an array of strings"), (c, err.Trim()));
        Assert.False(Directory.Exists(dir.File("r")));
    }
}
