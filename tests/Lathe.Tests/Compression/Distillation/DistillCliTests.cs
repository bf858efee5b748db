using System.Diagnostics;
using System.Text.Json;
using Lathe.Formats;
using Lathe.Tests.Cli;
using Lathe.Training;

namespace Lathe.Tests.Compression.Distillation;

/// <summary>`lathe distill` as a user runs it, in a fresh folder: a tiny teacher pre-trained for a few steps, a smaller
/// student distilled from it (live, from a GGUF teacher, and through --save-topk → --teacher-topk), --alpha 0 equal to
/// pretrain bit for bit, a run interrupted by SIGTERM and resumed equal to the uninterrupted one, and the one-line
/// exit-2 refusals (tokenizers that differ, a top-k file of another data order) that leave nothing written.</summary>
public class DistillCliTests
{
    static readonly string[] Run = ["--batch-size", "4", "--block-size", "32", "--threads", "1", "--warmup", "1", "--lr", "3e-3"];
    const string StudentConfig = """{ "model_type": "gpt2", "vocab_size": 300, "n_positions": 64, "n_embd": 32, "n_layer": 1, "n_head": 2 }""";

    static LatheProcess WithTeacher()
    {
        var lathe = new LatheProcess();
        lathe.PrepareMobyDick(2, 300);
        lathe.RunOk(["pretrain", "--config", "gpt2-tiny", "--n-layer", "2", "--n-embd", "64", "--n-head", "2", "--n-positions", "64",
            "--data", "data", "--out", "teacher", "--steps", "6", .. Run]);
        File.WriteAllText(lathe.PathOf("student.json"), StudentConfig);
        return lathe;
    }

    static byte[] Weights(LatheProcess lathe, string run) => File.ReadAllBytes(lathe.PathOf(Path.Combine(run, "checkpoint", Checkpoint.ModelFile)));

    static JsonElement[] Metrics(LatheProcess lathe, string run) =>
        File.ReadAllLines(lathe.PathOf(Path.Combine(run, "metrics.jsonl"))).Select(l => JsonDocument.Parse(l).RootElement).ToArray();

    [Fact]
    public void A_student_distils_from_a_live_teacher_a_gguf_teacher_and_a_topk_file()
    {
        using var lathe = WithTeacher();
        var (code, _, err) = lathe.Run(["distill", "--teacher", "teacher", "--student", "student.json", "--data", "data", "--out", "live",
            "--steps", "4", "--eval-every", "2", "--alpha", "0.7", "--temperature", "2", .. Run]);
        Assert.True(code == 0, err);
        Assert.Contains("distill: student", err);
        Assert.Contains("val loss (the student's next-token loss)", err);
        var metrics = Metrics(lathe, "live");
        Assert.Equal(4, metrics.Length);
        Assert.All(metrics, m => Assert.True(m.GetProperty("distill/kl").GetDouble() > 0));
        // The out folder is a normal checkpoint: generate reads it.
        string reply = lathe.RunOk("generate", "--model", "live", "--prompt", "Call me", "--max-tokens", "4", "--temperature", "0", "--threads", "1", "--json");
        Assert.NotEmpty(JsonDocument.Parse(reply).RootElement.GetProperty("tokens").EnumerateArray());

        // A quantized GGUF teacher.
        lathe.RunOk("quantize", "--model", "teacher", "--type", "q8_0", "--out", "teacher.gguf");
        lathe.RunOk(["distill", "--teacher", "teacher.gguf", "--student", "student.json", "--data", "data", "--out", "gguf", "--steps", "2", .. Run]);
        Assert.Equal(2, Metrics(lathe, "gguf").Length);

        // The teacher once to a file, then a student from the file alone; the same file serves a second student.
        string log = lathe.RunOk(["distill", "--teacher", "teacher", "--data", "data", "--save-topk", "t.topk", "--topk", "16", "--steps", "4", .. Run]);
        Assert.True(File.Exists(lathe.PathOf("t.topk")));
        lathe.RunOk(["distill", "--teacher-topk", "t.topk", "--student", "student.json", "--data", "data", "--out", "sparse", "--steps", "4", .. Run]);
        lathe.RunOk(["distill", "--teacher-topk", "t.topk", "--student", "gpt2-tiny", "--data", "data", "--out", "sparse2", "--steps", "4", .. Run]);
        Assert.All(Metrics(lathe, "sparse"), m => Assert.True(m.GetProperty("distill/kl").GetDouble() > 0));
        Assert.True(File.Exists(lathe.PathOf("sparse2/checkpoint/model.safetensors")));
    }

    [Fact]
    public void Sequence_level_writes_the_teachers_generations_as_shards_deterministically()
    {
        using var lathe = WithTeacher();
        string[] Args(string run, string temperature) => ["distill", "--teacher", "teacher", "--student", "student.json", "--data", "data", "--out", run, "--sequence-level",
            "--prompts", "12", "--prompt-tokens", "8", "--gen-tokens", "12", "--gen-temperature", temperature, "--steps", "2", .. Run];
        var (code, _, log) = lathe.Run(Args("greedy", "0"));
        Assert.True(code == 0, log);
        Assert.Contains("the teacher continued 12 prompts", log);
        lathe.RunOk(Args("greedy2", "0"));
        lathe.RunOk(Args("sampled", "0.9"));
        lathe.RunOk(Args("sampled2", "0.9"));
        byte[] Shard(string run) => File.ReadAllBytes(lathe.PathOf($"{run}/sequence-level-data/seqkd_train_000.bin"));
        Assert.Equal(Shard("greedy"), Shard("greedy2"));
        Assert.Equal(Shard("sampled"), Shard("sampled2"));
        Assert.NotEqual(Shard("greedy"), Shard("sampled"));
        // The generations are documents of prompt + continuation + end-of-text, and the folder is one pretrain reads.
        var tokens = Lathe.Data.TokenShards.Read(lathe.PathOf("greedy/sequence-level-data/seqkd_train_000.bin"));
        Assert.Equal(12, tokens.Count(t => t == 299));
        Assert.InRange(tokens.Length, 12 * (8 + 1), 12 * (8 + 12 + 1));
        Assert.Equal(Weights(lathe, "greedy"), Weights(lathe, "greedy2"));
        lathe.RunOk(["pretrain", "--config", "student.json", "--data", "greedy/sequence-level-data", "--out", "from-shards", "--steps", "2", .. Run]);
        Assert.Equal(Weights(lathe, "greedy"), Weights(lathe, "from-shards"));
    }

    [Fact]
    public void Hidden_state_matching_trains_through_a_projection_and_refuses_what_it_cannot_do()
    {
        using var lathe = WithTeacher();
        var (code, _, err) = lathe.Run(["distill", "--teacher", "teacher", "--student", "student.json", "--data", "data", "--out", "hidden",
            "--match-hidden", "mse", "--hidden-weight", "0.5", "--steps", "2", .. Run]);
        Assert.True(code == 0, err);
        Assert.Contains("hidden mse ×0.5 over layers [1]", err);
        Assert.All(Metrics(lathe, "hidden"), m => Assert.True(m.GetProperty("distill/hidden").GetDouble() > 0));
        // The projection is discarded: the checkpoint is the student alone, which generate reads.
        lathe.RunOk("generate", "--model", "hidden", "--prompt", "Call me", "--max-tokens", "2", "--temperature", "0", "--threads", "1");
        foreach (var (args, message) in new (string[], string)[]
        {
            (["--match-hidden", "cosine"], "lathe: distill: --match-hidden cosine: the student's width 32 differs from the teacher's 64"),
            (["--match-hidden", "mse", "--layer-map", "0,1"], "lathe: distill: --layer-map: 2 entries for a student of 1 layers"),
            (["--match-hidden", "l1"], "lathe: distill: --match-hidden 'l1' is not one of none, cosine, mse"),
        })
        {
            (code, _, err) = lathe.Run(["distill", "--teacher", "teacher", "--student", "student.json", "--data", "data", "--out", "bad", .. args, "--steps", "2", .. Run]);
            Assert.Equal(2, code);
            Assert.StartsWith(message, err.Trim());
            Assert.DoesNotContain('\n', err.Trim());
        }
        Assert.False(Directory.Exists(lathe.PathOf("bad")));
        (code, _, err) = lathe.Run(["distill", "--teacher", "teacher", "--student", "student.json", "--data", "data", "--out", "hidden", "--resume", "--match-hidden", "mse", "--steps", "3", .. Run]);
        Assert.Equal(2, code);
        Assert.Contains("the learned projection is not saved", err);
    }

    [Fact]
    public void Attention_maps_are_matched_end_to_end_and_refused_where_they_cannot_be()
    {
        using var lathe = WithTeacher();   // teacher 2 layers × 64 wide; student 1 layer × 32 wide
        var (code, _, err) = lathe.Run(["distill", "--teacher", "teacher", "--student", "student.json", "--data", "data", "--out", "attention",
            "--match-attention", "--attention-weight", "0.5", "--steps", "3", .. Run]);
        Assert.True(code == 0, err);
        Assert.Contains("attention maps ×0.5 over layers [1]", err);
        var metrics = Metrics(lathe, "attention");
        Assert.Equal(3, metrics.Length);
        Assert.All(metrics, m =>
        {
            double term = m.GetProperty("distill/attention").GetDouble();
            Assert.True(term > 0 && double.IsFinite(term), $"distill/attention {term}");
        });
        lathe.RunOk("generate", "--model", "attention", "--prompt", "Call me", "--max-tokens", "2", "--temperature", "0", "--threads", "1");

        // With hidden matching too, one --layer-map serves both.
        lathe.RunOk(["distill", "--teacher", "teacher", "--student", "student.json", "--data", "data", "--out", "both",
            "--match-attention", "--match-hidden", "mse", "--layer-map", "0", "--steps", "1", .. Run]);
        Assert.All(Metrics(lathe, "both"), m => Assert.True(m.TryGetProperty("distill/attention", out _) && m.TryGetProperty("distill/hidden", out _)));

        foreach (var (args, message) in new (string[], string)[]
        {
            (["--match-attention", "--attention-weight", "-1"], "lathe: distill: --attention-weight -1 must be finite and ≥ 0"),
            (["--match-attention", "--layer-map", "2"], "lathe: distill: --layer-map: teacher layer 2 is outside 0…1"),
            (["--layer-map", "1"], "lathe: distill: --layer-map needs --match-hidden or --match-attention"),
        })
        {
            (code, _, err) = lathe.Run(["distill", "--teacher", "teacher", "--student", "student.json", "--data", "data", "--out", "bad", .. args, "--steps", "2", .. Run]);
            Assert.Equal(2, code);
            Assert.StartsWith(message, err.Trim());
            Assert.DoesNotContain('\n', err.Trim());
        }
        Assert.False(Directory.Exists(lathe.PathOf("bad")));
        (code, _, err) = lathe.Run(["distill", "--teacher-topk", "t.topk", "--student", "student.json", "--data", "data", "--out", "bad", "--match-attention", "--steps", "2", .. Run]);
        Assert.Equal(2, code);
        Assert.StartsWith("lathe: distill: --match-attention needs a live --teacher", err.Trim());
    }

    [Fact]
    public void A_bert_student_distils_from_a_bert_teacher_on_the_masked_positions()
    {
        using var lathe = new LatheProcess();
        FinetuneClassifyCliTests.Base(lathe);   // wordpiece data in data/, a 1-layer × 32 bert in base/
        string[] bertRun = ["--batch-size", "2", "--block-size", "32", "--threads", "1", "--warmup", "1"];
        lathe.RunOk(["pretrain", "--config", "bert-tiny", "--data", "data", "--out", "teacher", "--n-layer", "2", "--n-embd", "64", "--n-head", "4",
            "--intermediate-size", "128", "--steps", "4", .. bertRun]);
        var (code, _, err) = lathe.Run(["distill", "--teacher", "teacher", "--student", "base", "--data", "data", "--out", "student",
            "--alpha", "0.8", "--temperature", "2", "--steps", "3", .. bertRun]);
        Assert.True(code == 0, err);
        Assert.Contains("teacher bert", err);
        Assert.Contains("KD on the masked positions", err);
        Assert.Contains("val loss (the student's MLM + NSP loss)", err);
        var metrics = Metrics(lathe, "student");
        Assert.Equal(3, metrics.Length);
        Assert.All(metrics, m =>
        {
            Assert.True(m.GetProperty("distill/kl").GetDouble() > 0);
            Assert.True(m.GetProperty("distill/ce").GetDouble() > 0);
            Assert.True(m.GetProperty("distill/nsp").GetDouble() > 0);
        });
        using (var config = JsonDocument.Parse(File.ReadAllText(lathe.PathOf("student/checkpoint/config.json"))))
        {
            Assert.Equal("bert", config.RootElement.GetProperty("model_type").GetString());
            Assert.Equal(1, config.RootElement.GetProperty("num_hidden_layers").GetInt32());
        }

        (code, _, err) = lathe.Run(["distill", "--teacher", "teacher", "--student", "base", "--data", "data", "--out", "bad", "--match-attention", "--steps", "1", .. bertRun]);
        Assert.Equal(2, code);
        Assert.StartsWith("lathe: distill: --student base: --match-hidden and --match-attention are for decoder students", err.Trim());
        Assert.False(Directory.Exists(lathe.PathOf("bad")));
    }

    [Fact]
    public void Alpha_zero_is_pretraining_from_scratch_bit_for_bit()
    {
        using var lathe = WithTeacher();
        lathe.RunOk(["pretrain", "--config", "student.json", "--data", "data", "--out", "scratch", "--steps", "3", .. Run]);
        lathe.RunOk(["distill", "--teacher", "teacher", "--student", "student.json", "--data", "data", "--out", "alpha0", "--alpha", "0", "--steps", "3", .. Run]);
        Assert.Equal(Weights(lathe, "scratch"), Weights(lathe, "alpha0"));
    }

    [Fact]
    public void Bad_input_is_one_line_exit_2_and_writes_nothing()
    {
        using var lathe = WithTeacher();
        // Another tokenizer over the same text.
        lathe.RunOk("tokenizer", "train", "--vocab", "280", "--input", "corpus.txt", "--output", "tok2.json");
        lathe.RunOk("data", "prepare", "--source", "corpus.txt", "--out", "data2", "--tokenizer", "tok2.json", "--min-words", "5", "--threads", "1");
        var (code, _, err) = lathe.Run(["distill", "--teacher", "teacher", "--student", "gpt2-tiny", "--data", "data2", "--out", "bad", "--steps", "2", .. Run]);
        Assert.Equal(2, code);
        Assert.StartsWith("lathe: --teacher teacher and --student gpt2-tiny use different tokenizers: vocabulary", err.Trim());
        Assert.DoesNotContain('\n', err.Trim());
        Assert.False(Directory.Exists(lathe.PathOf("bad")));

        // A top-k file read with another seed (another data order), or another tokenizer's data.
        lathe.RunOk(["distill", "--teacher", "teacher", "--data", "data", "--save-topk", "t.topk", "--topk", "4", "--steps", "2", .. Run]);
        (code, _, err) = lathe.Run(["distill", "--teacher-topk", "t.topk", "--student", "student.json", "--data", "data", "--out", "bad", "--steps", "2", "--seed", "7", .. Run]);
        Assert.Equal(2, code);
        Assert.StartsWith("lathe: t.topk: seed:", err.Trim());
        (code, _, err) = lathe.Run(["distill", "--teacher-topk", "t.topk", "--student", "gpt2-tiny", "--data", "data2", "--out", "bad", "--steps", "2", .. Run]);
        Assert.Equal(2, code);
        Assert.StartsWith("lathe: t.topk: tokenizer:", err.Trim());
        (code, _, err) = lathe.Run(["distill", "--teacher-topk", "t.topk", "--student", "student.json", "--data", "data", "--out", "bad", "--steps", "3", .. Run]);
        Assert.Equal(2, code);
        Assert.StartsWith("lathe: t.topk: micro_batches:", err.Trim());
        Assert.False(Directory.Exists(lathe.PathOf("bad")));
        (code, _, err) = lathe.Run(["distill", "--teacher", "teacher", "--student", "student.json", "--data", "data", "--out", "bad", "--alpha", "1.5", .. Run]);
        Assert.Equal(2, code);
        Assert.Contains("--alpha", err);
    }

    [Fact]
    public async Task Sigterm_then_resume_matches_the_uninterrupted_run_bit_for_bit()
    {
        using var lathe = WithTeacher();
        string[] Args(string run) => ["distill", "--teacher", "teacher", "--student", "student.json", "--data", "data", "--out", run,
            "--steps", "24", "--checkpoint-every", "1", "--eval-every", "0", .. Run];
        lathe.RunOk(Args("straight"));
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false, WorkingDirectory = lathe.Folder };
        psi.ArgumentList.Add(LatheProcess.Cli);
        foreach (var a in Args("split")) psi.ArgumentList.Add(a);
        using (var p = Process.Start(psi)!)
        {
            var clock = Stopwatch.StartNew();
            while (Step(lathe, "split") < 3 && !p.HasExited && clock.Elapsed.TotalSeconds < 120) Thread.Sleep(5);
            Assert.False(p.HasExited, "the run finished before it could be interrupted");
            using (var kill = Process.Start("kill", ["-TERM", p.Id.ToString()])) kill.WaitForExit();
            var err = p.StandardError.ReadToEndAsync();
            await p.StandardOutput.ReadToEndAsync();
            Assert.True(p.WaitForExit(60_000));
            Assert.True(p.ExitCode == 130, await err);
        }
        int at = Step(lathe, "split");
        Assert.InRange(at, 3, 23);
        lathe.RunOk([.. Args("split"), "--resume"]);
        Assert.Equal(Weights(lathe, "straight"), Weights(lathe, "split"));
        Assert.Equal(File.ReadAllBytes(lathe.PathOf("straight/checkpoint/optimizer.safetensors")), File.ReadAllBytes(lathe.PathOf("split/checkpoint/optimizer.safetensors")));
    }

    static int Step(LatheProcess lathe, string run)
    {
        try { return Checkpoint.Find(lathe.PathOf(run)) is { } d ? TrainerState.Load(Path.Combine(d, Checkpoint.StateFile)).Step : 0; }
        catch (Exception e) when (e is IOException or InvalidDataException) { return 0; }
    }
}
