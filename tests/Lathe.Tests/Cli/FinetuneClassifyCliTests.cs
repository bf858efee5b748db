using System.Text.Json;
using Lathe.Formats;
using Lathe.Tensors;

namespace Lathe.Tests.Cli;

/// <summary>`lathe finetune` on a BERT checkpoint as a user types it: a tiny WordPiece BERT pre-trained through the CLI
/// chain, then a sequence classifier fine-tuned on labelled JSONL with full, lora and adapter (--task classify is the
/// default for a bert base), the held-out scores as the JSON line last, the run folder's files (for lora/adapter the PEFT
/// SEQ_CLS adapter with the head beside the classifier checkpoint), and one-line exit-2 refusals that write nothing.
/// Tiny model, one thread, a few steps.</summary>
public class FinetuneClassifyCliTests
{
    static readonly string[] Spammy = ["free", "winner", "cash", "offer"], Plain = ["meeting", "lunch", "report", "friday"];

    // 60 short "mails" (spam ones hold a spammy word, ham ones a plain word), the tokenizer and a 2-step BERT pre-train.
    internal static void Base(LatheProcess lathe)
    {
        var rng = new Philox(3);
        string[] filler = ["the", "a", "team", "today", "please", "see", "you", "at", "and", "now"];
        var lines = new List<string>();
        var text = new List<string>();
        for (int i = 0; i < 60; i++)
        {
            bool spam = i % 3 == 0;
            var words = Enumerable.Range(0, 8).Select(_ => filler[rng.NextInt(filler.Length)]).ToList();
            words.Insert(rng.NextInt(9), (spam ? Spammy : Plain)[rng.NextInt(4)]);
            string mail = string.Join(' ', words) + ".";
            lines.Add(JsonSerializer.Serialize(new { text = mail, label = spam ? "spam" : "ham" }));
            text.Add(mail);
        }
        File.WriteAllLines(lathe.PathOf("mails.jsonl"), lines);
        File.WriteAllLines(lathe.PathOf("docs.jsonl"), text.Select(t => JsonSerializer.Serialize(new { text = t })));
        File.WriteAllLines(lathe.PathOf("corpus.txt"), text);
        lathe.RunOk("tokenizer", "train", "--type", "wordpiece", "--vocab", "200", "--input", "corpus.txt", "--output", "wp.json");
        lathe.RunOk("data", "prepare", "--source", "docs.jsonl", "--out", "data", "--tokenizer", "wp.json", "--min-words", "5", "--threads", "1");
        lathe.RunOk("pretrain", "--config", "bert-tiny", "--data", "data", "--out", "base", "--n-layer", "1", "--n-embd", "32", "--n-head", "2",
            "--intermediate-size", "64", "--steps", "2", "--batch-size", "2", "--block-size", "32", "--threads", "1", "--warmup", "1");
    }

    static readonly string[] Few = ["--data", "mails.jsonl", "--steps", "3", "--batch-size", "4", "--threads", "1", "--heldout-fraction", "0.25"];

    [Fact]
    public void Full_lora_and_adapter_fine_tune_a_BERT_classifier_and_save_the_head_with_the_adapter()
    {
        using var lathe = new LatheProcess();
        Base(lathe);
        foreach (var (method, trainable) in new[] { ("full", -1L), ("lora", 2 * (8 * 32 + 32 * 8) + 2 * 32 + 2), ("adapter", 2 * (64 * 32 + 64 + 32 * 64 + 32) + 2 * 32 + 2) })
        {
            string run = "run-" + method;
            var (code, stdout, stderr) = lathe.Run(["finetune", "--model", "base", "--method", method, "--out", run, .. Few]);
            Assert.True(code == 0, $"{method}: exit {code}: {stderr}");
            string json = stdout.TrimEnd().Split('\n')[^1];   // the JSON line comes last
            using var result = JsonDocument.Parse(json);
            var root = result.RootElement;
            Assert.Equal((method, "classify", 3, 45, 15), (root.GetProperty("finetune").GetString(), root.GetProperty("task").GetString(),
                root.GetProperty("steps").GetInt32(), root.GetProperty("train_examples").GetInt32(), root.GetProperty("held_out").GetInt32()));
            double accuracy = root.GetProperty("accuracy").GetDouble(), majority = root.GetProperty("majority_accuracy").GetDouble();
            Assert.InRange(accuracy, 0, 1);
            Assert.Equal(Math.Round(11.0 / 15, 4), majority);   // 15 held out, ham the training majority (the seeded split holds out 11 ham)
            Assert.Contains($"majority class: accuracy {majority:F4}", stderr);
            if (trainable > 0) Assert.Equal(trainable, root.GetProperty("trainable").GetInt64());   // LoRA (r 8 on query, value) or adapters (m 64 on 2 projections) + head

            string checkpoint = lathe.PathOf(run + "/checkpoint");
            using var scores = JsonDocument.Parse(File.ReadAllText(lathe.PathOf(run + "/classification.json")));
            Assert.Equal(accuracy, Math.Round(scores.RootElement.GetProperty("held_out").GetProperty("accuracy").GetDouble(), 4));
            using var model = SafetensorsFile.Open(Path.Combine(checkpoint, "model.safetensors"));
            Assert.Equal(new long[] { 2, 32 }, model.Get("classifier.weight").Shape);
            if (method == "full")
            {
                Assert.False(File.Exists(Path.Combine(checkpoint, "adapter_config.json")));
                continue;
            }
            using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(checkpoint, "adapter_config.json")));
            Assert.Equal("SEQ_CLS", config.RootElement.GetProperty("task_type").GetString());
            Assert.Equal(["classifier", "score"], config.RootElement.GetProperty("modules_to_save").EnumerateArray().Select(e => e.GetString()));
            Assert.Equal(method == "lora" ? "LORA" : "LATHE_BOTTLENECK", config.RootElement.GetProperty("peft_type").GetString());
            using var adapter = SafetensorsFile.Open(Path.Combine(checkpoint, "adapter_model.safetensors"));
            // The head in the adapter is the trained one in model.safetensors, bit for bit (and no longer the zero bias it started from).
            Assert.Equal(model.ReadFloats("classifier.weight"), adapter.ReadFloats("base_model.model.classifier.weight"));
            Assert.Equal(model.ReadFloats("classifier.bias"), adapter.ReadFloats("base_model.model.classifier.bias"));
            Assert.Contains(model.ReadFloats("classifier.bias"), b => b != 0);
            string[] expected = method == "lora"
                ? ["base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight", "base_model.model.bert.encoder.layer.0.attention.self.value.lora_B.weight"]
                : ["base_model.model.bert.encoder.layer.0.attention.output.dense.adapter_up.weight", "base_model.model.bert.encoder.layer.0.output.dense.adapter_down.bias"];
            Assert.All(expected, k => Assert.Contains(k, adapter.Entries.Keys));
            Assert.Equal(method == "lora" ? 4 + 2 : 8 + 2, adapter.Entries.Count);
        }
    }

    [Fact]
    public void Methods_BERT_lacks_and_bad_labels_are_one_line_errors_with_exit_2_and_nothing_written()
    {
        using var lathe = new LatheProcess();
        Base(lathe);
        foreach (var method in new[] { "prefix", "prompt", "qlora" })
        {
            var (code, _, stderr) = lathe.Run(["finetune", "--model", "base", "--method", method, "--out", "bad", .. Few]);
            Assert.Equal(2, code);
            Assert.Equal($"lathe: --method: '{method}' is not supported for --task classify (BERT); use full, lora, adapter", stderr.Trim());
            Assert.False(Directory.Exists(lathe.PathOf("bad")));
        }
        File.AppendAllLines(lathe.PathOf("mails.jsonl"), ["{\"text\": \"no label here\"}"]);
        var (c, _, err) = lathe.Run(["finetune", "--model", "base", "--method", "lora", "--out", "bad", .. Few]);
        Assert.Equal(2, c);
        Assert.Single(err.Trim().Split('\n'));
        Assert.EndsWith("mails.jsonl:61: no field \"label\" (a class name or a class id)", err.Trim());
        Assert.False(Directory.Exists(lathe.PathOf("bad")));
        // A chat-only option on a classification run is named, not ignored.
        (c, _, err) = lathe.Run(["finetune", "--model", "base", "--template", "chatml", "--out", "bad", .. Few]);
        Assert.Equal((2, "lathe: --template: only for --task chat (this run is --task classify)"), (c, err.Trim()));
        Assert.False(Directory.Exists(lathe.PathOf("bad")));
    }
}
