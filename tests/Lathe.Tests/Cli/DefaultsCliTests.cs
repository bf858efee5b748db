using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Lathe.Tests.Cli;

/// <summary>Every verb README.md's "What is here" names, run as a user would — a child process, its default options —
/// on the checkpoint `./lathe demo` leaves (the demo itself, cut to a few steps). Each test asserts exit 0 and what the
/// verb is for, not merely some output. The table (README verb → test):
/// <list type="table">
/// <item><term>demo, pretrain</term><description><see cref="Demo_leaves_a_checkpoint_and_three_samples"/></description></item>
/// <item><term>generate</term><description><see cref="Generate_with_only_a_model_starts_from_its_start_token"/></description></item>
/// <item><term>chat</term><description><see cref="Chat_with_defaults_answers_every_turn_of_a_conversation_longer_than_the_context"/></description></item>
/// <item><term>quantize, generate on GGUF</term><description><see cref="Quantize_with_its_default_type_then_generate_on_the_result"/></description></item>
/// <item><term>eval loss</term><description><see cref="Eval_loss_scores_text_near_the_untrained_entropy"/></description></item>
/// <item><term>eval tasks, eval levels, eval report</term><description><see cref="Eval_tasks_then_levels_and_report_from_its_results"/></description></item>
/// <item><term>tokenizer train, encode, decode</term><description><see cref="Tokenizer_train_encode_decode_round_trips_the_text"/></description></item>
/// <item><term>data prepare</term><description><see cref="Data_prepare_writes_shards_and_a_manifest"/></description></item>
/// <item><term>finetune, lora merge, lora export-gguf, generate --adapter</term><description><see cref="Finetune_lora_then_merge_export_and_generate_with_the_adapter"/></description></item>
/// <item><term>align dpo, align eval</term><description><see cref="Align_dpo_then_align_eval"/></description></item>
/// <item><term>kg import, stats, query, check</term><description><see cref="Kg_import_of_the_shipped_graph_then_query_and_check"/></description></item>
/// <item><term>serve</term><description><see cref="Serve_answers_one_completion_and_stops_on_sigterm"/></description></item>
/// </list>
/// Not run here: `bench …` (benchmarks, not defaults), `mpirun …` (tests/Lathe.Tests/Cli/Distributed*), `eval scaling`
/// (a sweep of runs sized to minutes), `align reward|ppo|rejection|rlaif` (AlignCliTests and neighbours).</summary>
public sealed class DefaultsCliTests(DefaultsCliTests.DemoRun demo) : IClassFixture<DefaultsCliTests.DemoRun>
{
    /// <summary>`lathe demo --steps 3` in a fresh folder (the demo's config, corpus, tokenizer and shards; a few steps
    /// instead of a three-minute budget), plus corpus.txt: the first three chapters of Moby-Dick.</summary>
    public sealed class DemoRun : IDisposable
    {
        internal LatheProcess Lathe { get; } = new();
        internal string Stdout { get; }

        public DemoRun()
        {
            (int code, Stdout, string stderr) = Lathe.Run("demo", "--out", "run", "--steps", "3", "--sample-tokens", "8");
            Assert.True(code == 0, $"lathe demo exited {code}: {stderr}");
            string chapters = Path.Combine(Data.Peers.Datasets, "moby-dick", "data");
            File.WriteAllText(Lathe.PathOf("corpus.txt"),
                string.Concat(Enumerable.Range(1, 3).Select(n => File.ReadAllText(Path.Combine(chapters, $"chapter_{n}.txt")) + "\n\n")));
        }

        public void Dispose() => Lathe.Dispose();
    }

    LatheProcess Lathe => demo.Lathe;

    (string Stdout, string Stderr) Ok(params string[] args)
    {
        var (code, stdout, stderr) = Lathe.Run(args);
        Assert.True(code == 0, $"lathe {string.Join(' ', args)} exited {code}: {stderr}");
        return (stdout, stderr);
    }

    [Fact]
    public void Demo_leaves_a_checkpoint_and_three_samples()
    {
        Assert.True(File.Exists(Lathe.PathOf("run/checkpoint/model.safetensors")));
        Assert.True(File.Exists(Lathe.PathOf("run/loss.html")));
        foreach (string prompt in new[] { "Call me Ishmael.", "The whale", "Queequeg was" })
            Assert.Contains("--- " + prompt, demo.Stdout);
    }

    [Fact]
    public void Generate_with_only_a_model_starts_from_its_start_token()
    {
        var (stdout, stderr) = Ok("generate", "--model", "run");
        Assert.Contains("generate: no --prompt; starting from token", stderr);
        // The default length (100) fits the demo's context (128): no cap note, and the text is 100 tokens long.
        Assert.Contains("generate: 100 tokens in", stderr);
        Assert.True(stdout.Trim().Length > 20, stdout);
    }

    [Fact]
    public void Chat_with_defaults_answers_every_turn_of_a_conversation_longer_than_the_context()
    {
        string[] turns = ["Hello there, tell me about whales.", "And the sea?", "What about Ahab and the white whale and the long voyage?",
            "One more question about the ship.", "And another.", "Goodbye, Ishmael."];
        var (code, stdout, stderr) = RunWithInput(string.Join('\n', turns) + "\n", "chat", "--model", "run");
        Assert.True(code == 0, stderr);
        Assert.Contains("chat: template chatml, context 128 tokens", stderr);
        Assert.Contains("chat: replies are limited by the context of 128 tokens", stderr);
        Assert.Contains("chat: the history outgrew the context of 128 tokens; dropped the", stderr);
        // One reply per turn (the default 256 tokens never fit, so every reply ends at the room the context leaves).
        Assert.Equal(turns.Length, stderr.Split('\n').Count(l => l.StartsWith("chat: ", StringComparison.Ordinal) && l.Contains("new prompt tokens")));
        Assert.True(stdout.Trim().Length > 0);
    }

    [Fact]
    public void Quantize_with_its_default_type_then_generate_on_the_result()
    {
        var (stdout, _) = Ok("quantize", "--model", "run", "--out", "q.gguf");
        using (var json = JsonDocument.Parse(stdout))
            Assert.Equal("q8_0", json.RootElement.GetProperty("quantize").GetString());
        var (text, stderr) = Ok("generate", "--model", "q.gguf", "--prompt", "Call me Ishmael.");
        Assert.Contains("generate: 100 tokens in", stderr);
        Assert.True(text.Trim().Length > 0);
    }

    [Fact]
    public void Eval_loss_scores_text_near_the_untrained_entropy()
    {
        var (stdout, _) = Ok("eval", "loss", "--model", "run", "--input", "corpus.txt");
        var m = Regex.Match(stdout, @"loss (\d+\.\d+) nats, perplexity (\d+\.\d+)");
        Assert.True(m.Success, stdout);
        double loss = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        double perplexity = double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
        // Three steps from a random start: near ln(1024) = 6.93 nats, and perplexity is e^loss.
        Assert.InRange(loss, 5.0, 7.5);
        Assert.Equal(Math.Exp(loss), perplexity, perplexity * 1e-3);
    }

    [Fact]
    public void Eval_tasks_then_levels_and_report_from_its_results()
    {
        var (table, _) = Ok("eval", "tasks", "--model", "run", "--tasks", "country_capital", "--output", "results.json");
        Assert.Contains("| country_capital | 1 | acc |", table);
        using (var results = JsonDocument.Parse(File.ReadAllText(Lathe.PathOf("results.json"))))
            Assert.Contains("country_capital", results.RootElement.GetRawText());
        var (levels, _) = Ok("eval", "levels", "--results", "results.json", "--out", "levels.html");
        Assert.Contains("Levels-of-AGI matrix", levels);
        Assert.Contains("<html", File.ReadAllText(Lathe.PathOf("levels.html")));
        var (report, _) = Ok("eval", "report", "--run", "run");
        Assert.Contains("report: run/report.html — loss curves (3 steps)", report);
    }

    [Fact]
    public void Tokenizer_train_encode_decode_round_trips_the_text()
    {
        var (_, trained) = Ok("tokenizer", "train", "--vocab", "400", "--input", "corpus.txt", "--output", "tok.json");
        Assert.Contains("trained 400 tokens", trained);
        var (_, encoded) = Ok("tokenizer", "encode", "--tokenizer", "run/tokenizer.json", "--input", "corpus.txt", "--output", "ids.txt");
        int count = File.ReadAllLines(Lathe.PathOf("ids.txt")).Length;
        Assert.Contains($"{count} tokens from", encoded);
        Ok("tokenizer", "decode", "--tokenizer", "run/tokenizer.json", "--input", "ids.txt", "--output", "back.txt");
        Assert.Equal(File.ReadAllText(Lathe.PathOf("corpus.txt")), File.ReadAllText(Lathe.PathOf("back.txt")));
    }

    [Fact]
    public void Data_prepare_writes_shards_and_a_manifest()
    {
        // No --tokenizer: GPT-2's, from the npm peers.
        var (_, stderr) = Ok("data", "prepare", "--source", "corpus.txt", "--out", "prepared");
        var m = Regex.Match(stderr, @"(\d+) documents in, (\d+) kept .*?; ([\d,]+) train \+ ([\d,]+) val tokens");
        Assert.True(m.Success, stderr);
        Assert.True(int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) > 0, stderr);
        Assert.True(int.Parse(m.Groups[3].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture) > 1000, stderr);
        Assert.True(File.Exists(Lathe.PathOf("prepared/manifest.json")));
        Assert.NotEmpty(Directory.GetFiles(Lathe.PathOf("prepared"), "*_train_*.bin"));
    }

    [Fact]
    public void Finetune_lora_then_merge_export_and_generate_with_the_adapter()
    {
        WriteFirstLines(Path.Combine(global::Lathe.IO.RepoFiles.Find("data", "instructions")!, "train.jsonl.gz"), "chat.jsonl", 24);
        var (summary, _) = Ok("finetune", "--model", "run", "--data", "chat.jsonl", "--out", "ft");
        using (var json = JsonDocument.Parse(summary.Trim().Split('\n')[^1]))
        {
            Assert.Equal("lora", json.RootElement.GetProperty("finetune").GetString());
            Assert.True(json.RootElement.GetProperty("steps").GetInt32() > 0);
        }
        Assert.True(File.Exists(Lathe.PathOf("ft/checkpoint/adapter_model.safetensors")));
        Assert.True(File.Exists(Lathe.PathOf("ft/checkpoint/adapter_config.json")));
        var (_, merged) = Ok("lora", "merge", "--model", "run", "--adapter", "ft", "--out", "merged");
        Assert.Contains("projections merged", merged);
        Assert.True(File.Exists(Lathe.PathOf("merged/model.safetensors")));
        var (_, exported) = Ok("lora", "export-gguf", "--model", "run", "--adapter", "ft", "--out", "adapter.gguf");
        Assert.Contains("LoRA pairs", exported);
        var (_, generated) = Ok("generate", "--model", "run", "--adapter", "ft", "--prompt", "What is the capital of France?");
        Assert.Contains("generate: adapter lora from ft", generated);
    }

    [Fact]
    public void Align_dpo_then_align_eval()
    {
        string alignment = global::Lathe.IO.RepoFiles.Find("data", "alignment")!;
        WriteFirstLines(Path.Combine(alignment, "pairs.train.jsonl.gz"), "pairs.jsonl", 16);
        var (summary, _) = Ok("align", "dpo", "--model", "run", "--data", "pairs.jsonl", "--out", "dpo");
        using (var json = JsonDocument.Parse(summary.Trim().Split('\n')[^1]))
        {
            Assert.Equal("dpo", json.RootElement.GetProperty("align").GetString());
            Assert.True(json.RootElement.GetProperty("steps").GetInt32() > 0);
        }
        WriteFirstLines(Path.Combine(alignment, "prompts.heldout.jsonl.gz"), "prompts.jsonl", 4);
        var (evaluation, stderr) = Ok("align", "eval", "--model", "dpo", "--prompts", "prompts.jsonl");
        Assert.Contains("KL to the reference", stderr);
        using var result = JsonDocument.Parse(evaluation);
        // The reference is the base the run started from (its align.json); every prompt got a reply.
        Assert.Equal(Lathe.PathOf("run"), result.RootElement.GetProperty("reference").GetString());
        Assert.True(result.RootElement.GetProperty("mean_reply_tokens").GetDouble() > 0);
        Assert.True(double.IsFinite(result.RootElement.GetProperty("kl_to_reference").GetDouble()));
    }

    [Fact]
    public void Kg_import_of_the_shipped_graph_then_query_and_check()
    {
        var (imported, _) = Ok("kg", "import");
        Assert.Matches(@"runs/kg/graph\.db: \d+ entities, \d+ relations, \d+ facts \(\d+ added, 0 duplicates\)", imported);
        var (stats, _) = Ok("kg", "stats");
        Assert.Contains("facts by relation:", stats);
        var (rows, _) = Ok("kg", "query", "[France] capital ?x");
        Assert.Contains("(Paris)", rows);
        var (check, _) = Ok("kg", "check", "--text", "The capital of France is Paris.");
        Assert.Contains("supported: France capital = Paris", check);
    }

    [Fact]
    public async Task Serve_answers_one_completion_and_stops_on_sigterm()
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false, WorkingDirectory = Lathe.Folder };
        foreach (string a in new[] { LatheProcess.Cli, "serve", "--model", "run", "--port", "0" }) psi.ArgumentList.Add(a);
        using var server = Process.Start(psi)!;
        var stdout = server.StandardOutput.ReadToEndAsync();
        try
        {
            // The first stderr line names the address it listens on (port 0: any free one).
            string? first = await server.StandardError.ReadLineAsync();
            var url = Regex.Match(first ?? "", @"http://127\.0\.0\.1:\d+/");
            Assert.True(url.Success, first);
            var stderrRest = server.StandardError.ReadToEndAsync();
            using var http = new HttpClient { BaseAddress = new Uri(url.Value), Timeout = TimeSpan.FromSeconds(60) };
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while ((await http.GetAsync("health")).StatusCode != System.Net.HttpStatusCode.OK)
            {
                Assert.True(DateTime.UtcNow < deadline, "serve: /health never became ready");
                await Task.Delay(100);
            }
            var response = await http.PostAsync("v1/completions", new StringContent("""{"prompt":"Call me","max_tokens":5}""", System.Text.Encoding.UTF8, "application/json"));
            string body = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, body);
            using (var json = JsonDocument.Parse(body))
            {
                Assert.Equal("text_completion", json.RootElement.GetProperty("object").GetString());
                Assert.Equal(5, json.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
            }
            using (var kill = Process.Start("kill", ["-TERM", server.Id.ToString(CultureInfo.InvariantCulture)])) kill.WaitForExit();
            using (var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30))) await server.WaitForExitAsync(limit.Token);
            Assert.Equal(0, server.ExitCode);
            Assert.Contains("serve: stopping", await stderrRest);
            await stdout;
        }
        finally
        {
            if (!server.HasExited) server.Kill();
        }
    }

    // The first lines of a shipped .jsonl.gz as a plain file in the working folder.
    void WriteFirstLines(string gz, string name, int lines)
    {
        using var reader = new StreamReader(new System.IO.Compression.GZipStream(File.OpenRead(gz), System.IO.Compression.CompressionMode.Decompress));
        var kept = new List<string>();
        for (string? line; kept.Count < lines && (line = reader.ReadLine()) is not null;) kept.Add(line);
        File.WriteAllLines(Lathe.PathOf(name), kept);
    }

    // `lathe args…` with <paramref name="input"/> on its stdin (a scripted chat), closed at the end.
    (int Code, string Stdout, string Stderr) RunWithInput(string input, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false, WorkingDirectory = Lathe.Folder,
        };
        psi.ArgumentList.Add(LatheProcess.Cli);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEndAsync();
        p.StandardInput.Write(input);
        p.StandardInput.Close();
        if (!p.WaitForExit(180_000)) { p.Kill(); throw new TimeoutException($"lathe {string.Join(' ', args)} did not finish in 180 s"); }
        return (p.ExitCode, output.Result, err.Result);
    }
}
