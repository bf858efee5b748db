using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Lathe.Formats;
using Lathe.Models;
using Lathe.Tests.Cli;
using Lathe.Tokenizers;

namespace Lathe.Tests.Evaluation.Tasks;

/// <summary>`lathe eval tasks` as a user runs it: task files of every request type on a checkpoint, the results
/// document and samples, every metric recomputed by an independent Python script (scripts/eval/check_metrics.py);
/// bad task files and documents exit 2 with one line naming the file, line and field.</summary>
public sealed class EvalTasksCliTests : IDisposable
{
    readonly LatheProcess _cli = new();
    public void Dispose() => _cli.Dispose();

    internal const string Corpus = "the whale swam east. the ship sailed west. paris is the capital of france. rome is the capital of italy. " +
        "two plus two is four. three plus four is seven. spam offers money now. ham says see you at lunch.";

    string Checkpoint() => Checkpoint(_cli, 96);

    /// <summary>A small GPT-2 checkpoint in <paramref name="cli"/>'s folder ("model") with a BPE tokenizer learned from
    /// <see cref="Corpus"/> (random weights: the metrics are checked for consistency, not for skill).</summary>
    internal static string Checkpoint(LatheProcess cli, int positions)
    {
        string dir = cli.PathOf("model"), tok = cli.PathOf("tokenizer.json");
        var tokenizer = new BpeTrainer(300, ["<|endoftext|>"], minFrequency: 1).Train([Corpus]);
        tokenizer.Save(tok);
        var model = CausalLM.Create(new ModelConfig { ModelType = "gpt2", VocabSize = 300, MaxPositions = positions, Embd = 32, Layers = 2, Heads = 2, KvHeads = 2, Intermediate = 64 }, 11);
        Lathe.Formats.Checkpoint.SaveModel(dir, model, tok);
        return dir;
    }

    string Write(string name, string text, bool gzip = false)
    {
        string path = _cli.PathOf(name);
        if (!gzip) { File.WriteAllText(path, text); return path; }
        using var gz = new GZipStream(File.Create(path), CompressionLevel.Optimal);
        gz.Write(Encoding.UTF8.GetBytes(text));
        return path;
    }

    string[] Tasks()
    {
        Write("capitals.jsonl.gz", string.Join("\n",
            """{"country":"france","choices":["paris","rome","berlin"],"answer":0}""",
            """{"country":"italy","choices":["paris","rome","berlin"],"answer":1}""",
            """{"country":"germany","choices":["paris","rome","berlin"],"answer":2}""",
            """{"country":"spain","choices":["madrid","rome","lisbon"],"answer":0}"""), gzip: true);
        Write("capitals.json", """
            { "task": "capitals", "version": 2, "documents": "capitals.jsonl.gz", "output_type": "multiple_choice",
              "doc_to_text": "the capital of {{country}} is", "doc_to_target": "{{answer}}", "doc_to_choice": "{{choices}}" }
            """);
        Write("spam.jsonl", string.Join("\n",
            """{"text":"offers money now","label":"spam"}""", """{"text":"see you at lunch","label":"ham"}""",
            """{"text":"money money","label":"spam"}""", "", """{"text":"the ship sailed","label":"ham"}"""));
        Write("spam.json", """
            { "task": "spam", "version": 1, "documents": "spam.jsonl", "output_type": "multiple_choice",
              "doc_to_text": "{{text}}\nspam or ham?", "doc_to_target": "{{label}}", "doc_to_choice": ["spam", "ham"] }
            """);
        Write("facts.jsonl", string.Join("\n",
            """{"q":"two plus two is","a":"four"}""", """{"q":"three plus four is","a":"seven"}""", """{"q":"the whale swam","a":"east"}"""));
        Write("facts.json", """
            { "task": "facts", "version": 1, "documents": "facts.jsonl", "output_type": "loglikelihood",
              "doc_to_text": "{{q}}", "doc_to_target": "{{a}}" }
            """);
        Write("prose.jsonl", string.Join("\n",
            """{"text":"the whale swam east. the ship sailed west."}""", """{"text":"paris is the capital of france. rome is the capital of italy. two plus two is four."}"""));
        Write("prose.json", """
            { "task": "prose", "version": 1, "documents": "prose.jsonl", "output_type": "loglikelihood_rolling", "doc_to_target": "{{text}}" }
            """);
        Write("sums.json", """
            { "task": "sums", "version": 1, "documents": "facts.jsonl", "output_type": "generate_until",
              "doc_to_text": "{{q}}", "doc_to_target": "{{a}}", "generation": { "until": ["."], "max_tokens": 6 }, "metrics": ["exact_match", "f1"] }
            """);
        return ["capitals.json", "spam.json", "facts.json", "prose.json", "sums.json"];
    }

    [Fact]
    public void Every_request_type_runs_and_an_independent_script_recomputes_every_metric()
    {
        string model = Checkpoint();
        string tasks = string.Join(',', Tasks());
        string table = _cli.RunOk("eval", "tasks", "--model", model, "--tasks", tasks, "--shots", "1", "--bootstrap", "50", "--threads", "1",
            "--output", "results.json", "--log-samples", "samples.jsonl");
        Assert.Contains("| capitals | 2 | acc |", table);
        Assert.Contains("| sums | 1 | f1 |", table);
        using var results = JsonDocument.Parse(File.ReadAllText(_cli.PathOf("results.json")));
        var t = results.RootElement.GetProperty("tasks");
        Assert.Equal(4, t.GetProperty("capitals").GetProperty("documents").GetInt32());
        Assert.Equal(1.0 / 3, t.GetProperty("capitals").GetProperty("chance").GetDouble(), 12);
        Assert.Equal(4, t.GetProperty("spam").GetProperty("documents").GetInt32());   // the blank line is skipped
        Assert.Equal(["word_perplexity", "byte_perplexity", "bits_per_byte"], t.GetProperty("prose").GetProperty("metrics").EnumerateObject().Select(p => p.Name));
        Assert.True(t.GetProperty("capitals").GetProperty("metrics").GetProperty("acc").GetProperty("stderr").GetDouble() >= 0);
        Assert.Equal(1, results.RootElement.GetProperty("config").GetProperty("shots").GetInt32());
        Assert.True(File.Exists(_cli.PathOf("results.md")));

        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(RepoRoot(), "scripts", "eval", "check_metrics.py"));
        psi.ArgumentList.Add(_cli.PathOf("results.json"));
        psi.ArgumentList.Add(_cli.PathOf("samples.jsonl"));
        using var p = Process.Start(psi)!;
        string report = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, report);
        Assert.Equal(2 + 2 + 2 + 3 + 2, report.Split('\n').Count(l => l.EndsWith(" ok")));

        // Same seed, same thread count: the same numbers.
        _cli.RunOk("eval", "tasks", "--model", model, "--tasks", tasks, "--shots", "1", "--bootstrap", "50", "--threads", "1", "--output", "again.json");
        using var again = JsonDocument.Parse(File.ReadAllText(_cli.PathOf("again.json")));
        Assert.Equal(t.GetRawText(), again.RootElement.GetProperty("tasks").GetRawText());
    }

    static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Lathe.sln"))) return d.FullName;
        throw new DirectoryNotFoundException("no Lathe.sln above the test binary");
    }

    [Theory]
    [InlineData("""{ "task": "x", "version": 1, "documents": "d.jsonl", "output_type": "multiple_choice", "doc_to_target": "{{a}}", "doc_to_choice": ["p", "q"] }""",
        """{"a":0}""", "field 'doc_to_text' is missing")]
    [InlineData("""{ "task": "x", "version": 1, "documents": "d.jsonl", "output_type": "loglikelihood", "doc_to_text": "{{q}}", "doc_to_target": "{{answer}}" }""",
        "{\"q\":\"a\",\"answer\":\"b\"}\n{\"q\":\"a\"}", "line 2: doc_to_target: field 'answer' is missing")]
    [InlineData("""{ "task": "x", "version": 1, "documents": "d.jsonl", "output_type": "loglikelihood", "doc_to_text": "{{q}}", "doc_to_target": "{{a}}" }""",
        "{\"q\":\"a\",\"a\":\"b\"}\n{\"q\":\"a\",\"a\":\"b\"}\n{\"q\": oops", "line 3: not valid JSON")]
    [InlineData("""{ "task": "x", "version": 1, "documents": "d.jsonl", "output_type": "multiple_choice", "doc_to_text": "{{q}}", "doc_to_target": "{{a}}", "doc_to_choice": "{{c}}" }""",
        """{"q":"a","a":0,"c":[]}""", "line 1: doc_to_choice: 0 choice(s)")]
    [InlineData("""{ "task": "x", "version": 1, "documents": "d.jsonl", "output_type": "multiple_choice", "doc_to_text": "{{q}}", "doc_to_target": "{{a}}", "doc_to_choice": "{{c}}" }""",
        """{"q":"a","a":5,"c":["p","q"]}""", "line 1: doc_to_target: gold index 5 is outside the 2 choices")]
    [InlineData("""{ "task": "x", "version": 1, "documents": "d.jsonl", "output_type": "ranking", "doc_to_text": "{{q}}", "doc_to_target": "{{a}}" }""",
        """{"q":"a","a":"b"}""", "field 'output_type' \"ranking\"")]
    [InlineData("""{ "task": "x", "version": 1, "documents": "d.jsonl", "output_type": "loglikelihood", "doc_to_text": "{{q", "doc_to_target": "{{a}}" }""",
        """{"q":"a","a":"b"}""", "field 'doc_to_text'")]
    [InlineData("""{ "task": "x", "version": 1, "documents": "d.jsonl", "output_type": "loglikelihood", "doc_to_text": "{{q}}", "doc_to_target": "{{a}}", "metrics": ["bleu"] }""",
        """{"q":"a","a":"b"}""", "field 'metrics': \"bleu\"")]
    public void Bad_task_files_and_documents_exit_2_naming_file_line_and_field(string taskFile, string documents, string expected)
    {
        string model = Checkpoint();
        Write("t.json", taskFile);
        Write("d.jsonl", documents);
        var (code, _, stderr) = _cli.Run("eval", "tasks", "--model", model, "--tasks", "t.json", "--threads", "1");
        Assert.True(code == 2, $"exit {code}: {stderr}");
        string line = stderr.Trim().Split('\n')[^1];
        Assert.StartsWith("lathe: eval tasks: ", line);
        Assert.Contains("t.json", line);
        Assert.Contains(expected, line);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public void A_yaml_task_file_reads_as_its_json_twin()
    {
        string model = Checkpoint();
        Tasks();
        Write("capitals.yaml", """
            # the same task as capitals.json
            task: capitals
            version: 2
            documents: capitals.jsonl.gz
            output_type: multiple_choice
            doc_to_text: "the capital of {{country}} is"
            doc_to_target: "{{answer}}"
            doc_to_choice: "{{choices}}"
            """);
        _cli.RunOk("eval", "tasks", "--model", model, "--tasks", "capitals.json", "--threads", "1", "--bootstrap", "20", "--output", "json.json");
        _cli.RunOk("eval", "tasks", "--model", model, "--tasks", "capitals.yaml", "--threads", "1", "--bootstrap", "20", "--output", "yaml.json");
        string TasksOf(string f) => JsonDocument.Parse(File.ReadAllText(_cli.PathOf(f))).RootElement.GetProperty("tasks").GetRawText();
        Assert.Equal(TasksOf("json.json"), TasksOf("yaml.json"));

        Write("bad.yaml", "task: x\nversion: [1\n");
        var (code, _, stderr) = _cli.Run("eval", "tasks", "--model", model, "--tasks", "bad.yaml");
        Assert.Equal(2, code);
        Assert.Contains("bad.yaml: not valid YAML (line", stderr);
    }

    [Fact]
    public void A_gguf_file_is_scored_like_a_checkpoint()
    {
        Tasks();
        string gguf = Path.Combine(AppContext.BaseDirectory, "Inference", "fixtures", "gguf", "gpt2vocab-q8_0.gguf");
        string table = _cli.RunOk("eval", "tasks", "--model", gguf, "--tasks", "spam.json,prose.json", "--threads", "1", "--bootstrap", "20",
            "--output", "gguf.json");
        Assert.Contains("| spam | 1 | acc |", table);
        using var results = JsonDocument.Parse(File.ReadAllText(_cli.PathOf("gguf.json")));
        Assert.Equal("gguf", results.RootElement.GetProperty("model").GetProperty("format").GetString());
        Assert.True(results.RootElement.GetProperty("tasks").GetProperty("prose").GetProperty("metrics").GetProperty("bits_per_byte").GetProperty("value").GetDouble() > 0);
    }

    [Fact]
    public void Eval_levels_scores_a_model_first_and_reports_beside_its_results()
    {
        string model = Checkpoint();
        Tasks();
        string stdout = _cli.RunOk("eval", "levels", "--model", model, "--tasks", "capitals.json,spam.json", "--threads", "1", "--out", "levels.html");
        Assert.Contains("Level 0", stdout);
        Assert.True(File.Exists(_cli.PathOf("levels.html")));
        using var results = JsonDocument.Parse(File.ReadAllText(_cli.PathOf("levels.results.json")));
        Assert.Equal(["capitals", "spam"], results.RootElement.GetProperty("tasks").EnumerateObject().Select(p => p.Name));
        var (code, _, stderr) = _cli.Run("eval", "levels", "--out", "x.html");
        Assert.Equal(2, code);
        Assert.Contains("either --results FILE or --model", stderr);
    }

    [Fact]
    public void An_unknown_built_in_task_is_named()
    {
        string model = Checkpoint();
        var (code, _, stderr) = _cli.Run("eval", "tasks", "--model", model, "--tasks", "no_such_task");
        Assert.Equal(2, code);
        Assert.Contains("no built-in task 'no_such_task'", stderr);
    }
}
