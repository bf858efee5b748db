using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Tuning;

namespace Lathe.Server.Tests;

/// <summary>`lathe serve` as a user runs it: a child process on a checkpoint folder with a LoRA adapter, printing its
/// URL and model ids, answering over HTTP, stopping gracefully on SIGTERM; bad arguments exit 2 with one line.</summary>
public sealed class ServeCliTests : IDisposable
{
    readonly string _folder = Path.Combine(Path.GetTempPath(), "lathe-serve-" + Guid.NewGuid().ToString("N"));

    public ServeCliTests() => Directory.CreateDirectory(_folder);
    public void Dispose() { try { Directory.Delete(_folder, true); } catch (IOException) { } }

    static Dictionary<int, float> NoStops => new()
    {
        [TinyModel.SpecialId(TinyModel.ImEnd)] = -100,
        [TinyModel.SpecialId(TinyModel.EndOfText)] = -100,
    };

    // A checkpoint of the tiny model, and a LoRA adapter over it whose B is far from zero (so it changes the output).
    (string Model, string Adapter) WriteModelAndAdapter()
    {
        string model = Path.Combine(_folder, "tiny-model"), adapter = Path.Combine(_folder, "adapter");
        using var m = TinyModel.Create();
        Checkpoint.SaveModel(model, m.Model, null);
        m.Tokenizer.Save(Path.Combine(model, Checkpoint.TokenizerFile));
        using var lora = LoraMethod.Attach(m.Model, new LoraConfig { Rank = 4, Alpha = 8, TargetModules = ["q_proj", "v_proj"] }, seed: 1);
        var rng = new Random(3);
        foreach (var a in lora.Adapters)
        {
            var b = a.B.AsSpan();
            for (int i = 0; i < b.Length; i++) b[i] = (float)(rng.NextDouble() - 0.5);
        }
        lora.Save(adapter);
        return (model, adapter);
    }

    [Fact]
    public async Task Serve_prints_its_url_and_models_serves_the_adapter_and_stops_on_SIGTERM()
    {
        var (modelDir, adapterDir) = WriteModelAndAdapter();
        using var serve = Start("serve", "--model", modelDir, "--adapter", $"tuned={adapterDir}", "--port", "0", "--threads", "1");
        var ready = await serve.WaitForLine(l => l.StartsWith("serve: http://", StringComparison.Ordinal), TimeSpan.FromSeconds(90));
        // "serve: http://127.0.0.1:PORT/ models: tiny-model, tuned"
        var url = new Uri(ready.Split(' ')[1]);
        Assert.Equal("127.0.0.1", url.Host);
        Assert.EndsWith("models: tiny-model, tuned", ready);
        using var http = new HttpClient { BaseAddress = url };
        Assert.Equal("""{"status":"ok"}""", await http.GetStringAsync("/health"));

        int[] prompt;
        string[] texts = new string[2];
        using (var loaded = ModelLoader.Load(modelDir))
        {
            prompt = loaded.Encode("the whale");
            string[] models = ["tiny-model", "tuned"];
            for (int i = 0; i < 2; i++)
            {
                var body = JsonSerializer.Serialize(new { model = models[i], prompt, max_tokens = 8, temperature = 0, logit_bias = NoStops.ToDictionary(p => p.Key.ToString(), p => p.Value) });
                using var response = await http.PostAsync("/v1/completions", new StringContent(body, Encoding.UTF8, "application/json"));
                Assert.Equal(200, (int)response.StatusCode);
                texts[i] = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!;
            }
            // The oracle: greedy decoding in process, with the adapter attached (or not).
            Assert.Equal(Greedy(loaded, prompt), texts[0]);
            using var adapter = AdapterFiles.Attach(loaded.Model, adapterDir);
            Assert.Equal(Greedy(loaded, prompt), texts[1]);
        }
        Assert.NotEqual(texts[0], texts[1]);

        Assert.Equal(0, kill(serve.Process.Id, 15));   // SIGTERM: what a container runtime sends
        Assert.True(serve.Process.WaitForExit(20_000), "serve did not stop within 20 s of SIGTERM");
        serve.Process.WaitForExit();   // and its output is all read
        Assert.Equal(0, serve.Process.ExitCode);
        Assert.Contains("serve: stopping", serve.Stderr);
    }

    [Theory]
    [InlineData("--adapter", "tuned")]
    [InlineData("--adapter", "tuned=/no/such/adapter")]
    [InlineData("--port", "70000")]
    [InlineData("--template", "nope")]
    [InlineData("--max-body", "10")]
    [InlineData("--cors", "example.com")]
    [InlineData("--parallel", "0")]
    [InlineData("--draft", "/no/such/draft")]
    [InlineData("--draft-tokens", "0")]
    public void Bad_options_exit_2_with_one_line(string option, string value)
    {
        var (modelDir, _) = WriteModelAndAdapter();
        using var serve = Start(option == "--port" ? ["serve", "--model", modelDir, option, value] : ["serve", "--model", modelDir, "--port", "0", option, value]);
        Assert.True(serve.Process.WaitForExit(60_000));
        serve.Process.WaitForExit();
        Assert.Equal(2, serve.Process.ExitCode);
        string err = serve.Stderr.Trim();
        Assert.StartsWith("lathe: serve: ", err);
        Assert.DoesNotContain("\n", err);
    }

    [Fact]
    public async Task Serve_with_a_draft_decodes_speculatively_with_the_same_output()
    {
        var (modelDir, _) = WriteModelAndAdapter();
        string draftDir = Path.Combine(_folder, "draft");
        using (var d = TinyModel.Create(9))   // another random model with the same tokenizer
        {
            Checkpoint.SaveModel(draftDir, d.Model, null);
            d.Tokenizer.Save(Path.Combine(draftDir, Checkpoint.TokenizerFile));
        }
        using var serve = Start("serve", "--model", modelDir, "--draft", draftDir, "--draft-tokens", "3", "--port", "0", "--threads", "1");
        var ready = await serve.WaitForLine(l => l.StartsWith("serve: http://", StringComparison.Ordinal), TimeSpan.FromSeconds(90));
        using var http = new HttpClient { BaseAddress = new Uri(ready.Split(' ')[1]) };
        using var loaded = ModelLoader.Load(modelDir);
        int[] prompt = loaded.Encode("the whale");
        var body = JsonSerializer.Serialize(new { prompt, max_tokens = 8, temperature = 0, logit_bias = NoStops.ToDictionary(p => p.Key.ToString(), p => p.Value) });
        using var response = await http.PostAsync("/v1/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(200, (int)response.StatusCode);
        string text = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!;
        Assert.Equal(Greedy(loaded, prompt), text);
        string metrics = await http.GetStringAsync("/metrics");
        Assert.Matches(@"(?m)^lathe_draft_tokens_proposed_total [1-9]", metrics);
        Assert.Contains("proposing 3 tokens a step", serve.Stderr);
        Assert.Equal(0, kill(serve.Process.Id, 15));
        Assert.True(serve.Process.WaitForExit(20_000));
    }

    [Fact]
    public void A_missing_model_exits_2_naming_the_path()
    {
        using var serve = Start("serve", "--model", Path.Combine(_folder, "nothing-here"), "--port", "0");
        Assert.True(serve.Process.WaitForExit(60_000));
        serve.Process.WaitForExit();
        Assert.Equal(2, serve.Process.ExitCode);
        Assert.Contains("nothing-here", serve.Stderr);
    }

    [Fact]
    public void Bench_serve_drives_the_server_and_prints_a_json_line_per_client_count()
    {
        var (modelDir, _) = WriteModelAndAdapter();
        using var bench = Start("bench", "serve", "--model", modelDir, "--clients", "1,3", "--threads", "1", "--prompt-tokens", "8", "--gen-tokens", "6");
        Assert.True(bench.Process.WaitForExit(120_000), bench.Stderr);
        bench.Process.WaitForExit();
        Assert.True(bench.Process.ExitCode == 0, bench.Stderr);
        var lines = bench.Stdout.Where(l => l.StartsWith('{')).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal([1, 3], lines.Select(l => l.GetProperty("clients").GetInt32()));
        foreach (var line in lines)
        {
            int clients = line.GetProperty("clients").GetInt32();
            Assert.Equal(0, line.GetProperty("failures").GetInt32());
            Assert.Equal(6 * clients, line.GetProperty("tokens").GetInt32());   // end-of-sequence is banned: exact lengths
            Assert.True(line.GetProperty("tokens_per_s").GetDouble() > 0);
            Assert.True(line.GetProperty("ttft_ms_p50").GetDouble() > 0);
            Assert.True(line.GetProperty("itl_ms_p50").GetDouble() >= 0);
            Assert.True(line.GetProperty("decode_step_ms_p50").GetDouble() > 0);
        }
    }

    static string Greedy(LoadedModel loaded, int[] prompt)
    {
        using var generator = new Generator(loaded.Decoder);
        var ids = generator.Generate(prompt, 8, new SamplingOptions { Temperature = 0, LogitBias = NoStops }, loaded.StopIds).ToArray();
        return loaded.Tokenizer.Decode(ids);
    }

    [DllImport("libc", SetLastError = true)]
    static extern int kill(int pid, int signal);

    ChildProcess Start(params string[] args) => new(_folder, args);

    /// <summary>The CLI as a child process, its output collected line by line as it comes.</summary>
    sealed class ChildProcess : IDisposable
    {
        readonly List<string> _stdout = [];
        readonly StringBuilder _stderr = new();

        public ChildProcess(string folder, string[] args)
        {
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = folder };
            psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Lathe.Cli.dll"));
            foreach (string a in args) psi.ArgumentList.Add(a);
            Process = Process.Start(psi)!;
            Process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_stdout) _stdout.Add(e.Data); };
            Process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data); };
            Process.BeginOutputReadLine();
            Process.BeginErrorReadLine();
        }

        public Process Process { get; }
        public IReadOnlyList<string> Stdout { get { lock (_stdout) return [.. _stdout]; } }
        public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }

        public async Task<string> WaitForLine(Func<string, bool> match, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (DateTime.UtcNow < deadline)
            {
                lock (_stdout) if (_stdout.FirstOrDefault(match) is { } line) return line;
                if (Process.HasExited) break;
                await Task.Delay(50);
            }
            throw new Xunit.Sdk.XunitException($"no matching line on stdout; stderr: {Stderr}");
        }

        public void Dispose()
        {
            if (!Process.HasExited) { Process.Kill(entireProcessTree: true); Process.WaitForExit(); }
            Process.Dispose();
        }
    }
}
