using System.Text;
using System.Text.Json;
using Lathe.Tests.Data;

namespace Lathe.Tests.Cli;

/// <summary>The fine-tuning chain as a user types it, in a fresh folder: `tokenizer train` → `data prepare` →
/// `pretrain` → `finetune --method …` → `generate --adapter` (and `lora merge`, `lora export-gguf` → `generate
/// --adapter FILE.gguf`), and the one-line exit-2 refusals of bad input that leave nothing written. Tiny models, one
/// thread, a few steps.</summary>
public class FinetuneCliTests
{
    static readonly string[] Few = ["--steps", "3", "--batch-size", "2", "--block-size", "96", "--threads", "1", "--eval-every", "2"];

    // A base decoder from the README chain, and a small chat set (multi-turn, system prompts, prompt/completion lines).
    static void Base(LatheProcess lathe, string preset, params string[] dims)
    {
        string chapters = Path.Combine(Peers.Datasets, "moby-dick", "data");
        var sb = new StringBuilder();
        for (int n = 1; n <= 3; n++) sb.Append(File.ReadAllText(Path.Combine(chapters, $"chapter_{n}.txt"))).Append("\n\n");
        File.WriteAllText(lathe.PathOf("corpus.txt"), sb.ToString());
        lathe.RunOk("tokenizer", "train", "--vocab", "400", "--input", "corpus.txt", "--output", "tok.json", "--special", "<|endoftext|>", "<|im_start|>", "<|im_end|>");
        lathe.RunOk("data", "prepare", "--source", "corpus.txt", "--out", "data", "--tokenizer", "tok.json", "--min-words", "5", "--threads", "1");
        lathe.RunOk(["pretrain", "--config", preset, "--data", "data", "--out", "base", .. dims,
            "--steps", "2", "--batch-size", "2", "--block-size", "32", "--threads", "1", "--warmup", "1"]);
        var lines = new List<string>();
        string[] whales = ["sperm", "right", "blue", "grey", "humpback", "fin", "minke", "sei"];
        for (int i = 0; i < whales.Length; i++)
        {
            lines.Add(JsonSerializer.Serialize(new { messages = new object[]
            {
                new { role = "system", content = "Answer briefly." },
                new { role = "user", content = $"Name whale number {i}." },
                new { role = "assistant", content = $"The {whales[i]} whale." },
                new { role = "user", content = "And its colour?" },
                new { role = "assistant", content = i % 2 == 0 ? "Dark." : "Grey." },
            } }));
            lines.Add(JsonSerializer.Serialize(new { prompt = $"Who hunts the {whales[i]} whale?", completion = "Ahab." }));
        }
        File.WriteAllLines(lathe.PathOf("chat.jsonl"), lines);
    }

    static int[] Greedy(LatheProcess lathe, params string[] extra)
    {
        using var reply = JsonDocument.Parse(lathe.RunOk(["generate", "--model", "base", "--prompt", "<|im_start|>user\nWho hunts whales?<|im_end|>\n<|im_start|>assistant\n",
            "--max-tokens", "8", "--temperature", "0", "--threads", "1", "--json", .. extra]));
        return reply.RootElement.GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32()).ToArray();
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void Every_method_fine_tunes_and_its_adapter_decodes(string arch)
    {
        using var lathe = new LatheProcess();
        if (arch == "gpt2") Base(lathe, "gpt2-tiny", "--n-layer", "2", "--n-embd", "32", "--n-head", "2");
        else Base(lathe, "llama-tiny", "--n-layer", "2", "--n-embd", "32", "--n-head", "2", "--n-kv-head", "1", "--intermediate-size", "64");
        int[] plain = Greedy(lathe);
        foreach (var (method, options) in new (string, string[])[]
        {
            ("lora", ["--targets", "all-linear", "--lr", "0.05"]), ("qlora", ["--quant", "q8_0", "--lr", "0.05"]), ("prefix", ["--virtual-tokens", "4", "--prefix-projection", "16"]),
            ("prompt", ["--virtual-tokens", "4", "--init-text", "Answer the question"]), ("adapter", ["--bottleneck", "8", "--lr", "0.05"]), ("full", ["--layers", "1"]),
        })
        {
            string run = "ft-" + method;
            string log = lathe.RunOk(["finetune", "--model", "base", "--data", "chat.jsonl", "--val-fraction", "0.2", "--method", method, "--out", run, .. options, .. Few]);
            Assert.True(File.Exists(lathe.PathOf($"{run}/metrics.jsonl")), method);
            var metrics = File.ReadAllLines(lathe.PathOf($"{run}/metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
            Assert.Equal(3, metrics.Count(m => m.TryGetProperty("loss", out _)));
            Assert.Contains(metrics, m => m.TryGetProperty("val_loss", out var v) && double.IsFinite(v.GetDouble()));
            // The run decodes: an adapter through --adapter on the base, full fine-tuning as a model of its own.
            int[] tuned = method == "full"
                ? JsonDocument.Parse(lathe.RunOk("generate", "--model", run, "--prompt", "Who hunts whales?", "--max-tokens", "4", "--temperature", "0", "--threads", "1", "--json"))
                    .RootElement.GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32()).ToArray()
                : Greedy(lathe, "--adapter", run);
            Assert.NotEmpty(tuned);
            if (method == "full")
                Assert.False(File.Exists(lathe.PathOf($"{run}/checkpoint/adapter_config.json")));
            else
            {
                Assert.True(File.Exists(lathe.PathOf($"{run}/checkpoint/adapter_config.json")), method);
                Assert.False(File.Exists(lathe.PathOf($"{run}/checkpoint/model.safetensors")), method);
            }
            if (method == "lora") Assert.NotEqual(plain, tuned);   // a high learning rate: the adapter changes the greedy reply
        }
        // LoRA merged into the base, and exported for llama.cpp, decodes as the adapter does.
        int[] withAdapter = Greedy(lathe, "--adapter", "ft-lora");
        lathe.RunOk("lora", "merge", "--model", "base", "--adapter", "ft-lora", "--out", "merged");
        using (var merged = JsonDocument.Parse(lathe.RunOk("generate", "--model", "merged", "--prompt", "<|im_start|>user\nWho hunts whales?<|im_end|>\n<|im_start|>assistant\n",
            "--max-tokens", "8", "--temperature", "0", "--threads", "1", "--json")))
            Assert.Equal(withAdapter, merged.RootElement.GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32()).ToArray());
        lathe.RunOk("lora", "export-gguf", "--model", "base", "--adapter", "ft-lora", "--out", "lora.gguf");
        Assert.Equal(withAdapter, Greedy(lathe, "--adapter", "lora.gguf"));
        // --resume continues a finished run for more steps.
        lathe.RunOk(["finetune", "--model", "base", "--data", "chat.jsonl", "--method", "lora", "--out", "ft-lora", "--resume", "--steps", "5", "--threads", "1"]);
        Assert.Equal(5, File.ReadAllLines(lathe.PathOf("ft-lora/metrics.jsonl")).Count(l => l.Contains("\"loss\"")));
    }

    [Fact]
    public void A_llama_gguf_base_fine_tunes_and_stays_quantized_under_qlora()
    {
        using var lathe = new LatheProcess();
        Base(lathe, "llama-tiny", "--n-layer", "2", "--n-embd", "64", "--n-head", "2", "--n-kv-head", "1", "--intermediate-size", "128");
        lathe.RunOk("quantize", "--model", "base", "--type", "q8_0", "--out", "base.gguf");
        foreach (var method in new[] { "lora", "qlora", "prefix" })
        {
            string log = lathe.RunOk(["finetune", "--model", "base.gguf", "--data", "chat.jsonl", "--method", method, "--out", "g-" + method, .. Few]);
            Assert.True(File.Exists(lathe.PathOf($"g-{method}/checkpoint/adapter_config.json")), method);
            using var reply = JsonDocument.Parse(lathe.RunOk("generate", "--model", "base.gguf", "--adapter", "g-" + method, "--prompt", "Who hunts whales?",
                "--max-tokens", "4", "--temperature", "0", "--threads", "1", "--json"));
            Assert.Equal(4, reply.RootElement.GetProperty("tokens").GetArrayLength());
        }
        // Full fine-tuning cannot write a GGUF base's tokenizer back: refused in one line before anything is written.
        var (code, _, err) = lathe.Run(["finetune", "--model", "base.gguf", "--data", "chat.jsonl", "--method", "full", "--out", "g-full", .. Few]);
        Assert.Equal(2, code);
        Assert.Contains("GGUF", err);
        Assert.False(Directory.Exists(lathe.PathOf("g-full")));
    }

    [Fact]
    public void Bad_input_is_one_line_with_exit_2_and_nothing_written()
    {
        using var lathe = new LatheProcess();
        Base(lathe, "gpt2-tiny", "--n-layer", "1", "--n-embd", "32", "--n-head", "2");
        void Refused(string expected, params string[] args)
        {
            var (code, _, stderr) = lathe.Run(["finetune", "--model", "base", "--out", "bad", .. args, .. Few]);
            Assert.Equal(2, code);
            string message = stderr.Trim();
            Assert.DoesNotContain('\n', message);
            Assert.Contains(expected, message);
            Assert.False(Directory.Exists(lathe.PathOf("bad")), $"{expected}: the run folder was created");
        }
        var lines = File.ReadAllLines(lathe.PathOf("chat.jsonl"));
        File.WriteAllLines(lathe.PathOf("broken.jsonl"), [lines[0], lines[1], "{\"messages\": [", lines[2]]);
        Refused("broken.jsonl:3", "--data", "broken.jsonl");
        File.WriteAllLines(lathe.PathOf("role.jsonl"), [lines[0], "{\"messages\":[{\"role\":\"wizard\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"ok\"}]}"]);
        Refused("wizard", "--data", "role.jsonl");
        Refused("q_proj", "--data", "chat.jsonl", "--method", "lora", "--targets", "q_proj");
        Refused("--method", "--data", "chat.jsonl", "--method", "ia3");
        Refused("--packing", "--data", "chat.jsonl", "--packing", "sideways");
        // A conversation longer than the context is counted, never silently cut.
        File.WriteAllLines(lathe.PathOf("long.jsonl"), [.. lines, JsonSerializer.Serialize(new { prompt = string.Join(' ', Enumerable.Repeat("whale", 300)), completion = "Yes." })]);
        var (ok, _, log) = lathe.Run(["finetune", "--model", "base", "--data", "long.jsonl", "--val-fraction", "0", "--method", "lora", "--out", "long", "--overlong", "drop", .. Few]);
        Assert.Equal(0, ok);
        Assert.Contains("1 overlong", log);
        Assert.Contains("1 dropped", log);
        // An adapter made for another base names the tensor and both shapes.
        lathe.RunOk("pretrain", "--config", "gpt2-tiny", "--data", "data", "--out", "other", "--n-layer", "1", "--n-embd", "48", "--n-head", "2",
            "--steps", "1", "--batch-size", "2", "--block-size", "32", "--threads", "1", "--warmup", "1");
        var (code, _, err) = lathe.Run("generate", "--model", "other", "--adapter", "long", "--prompt", "Hi", "--max-tokens", "2", "--threads", "1");
        Assert.Equal(2, code);
        Assert.Contains("c_attn", err);
        Assert.Contains("shape", err);
    }
}
