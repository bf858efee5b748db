using System.Text.Json;

namespace Lathe.Tests.Cli;

/// <summary>`lathe bench distill`: a tiny teacher and student end with the JSON line scripts/bench/distill-compare.sh
/// reads (no timing is asserted, only that the figures are there, the models are the stated ones and tokens/s is the
/// stated step's); bad arguments are one-line errors (exit 2).</summary>
public class BenchDistillCliTests
{
    [Fact]
    public void A_tiny_run_prints_the_json_line_last()
    {
        using var lathe = new LatheProcess();
        string stdout = lathe.RunOk("bench", "distill", "--teacher-preset", "S", "--student-preset", "gpt2-tiny", "--threads", "1",
            "--batch", "2", "--block", "16", "--steps", "2", "--warmup", "1");
        using var json = JsonDocument.Parse(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last());
        var j = json.RootElement;
        Assert.Equal("distill", j.GetProperty("bench").GetString());
        Assert.Equal("S", j.GetProperty("teacher_preset").GetString());
        Assert.Equal("gpt2-tiny", j.GetProperty("student_preset").GetString());
        Assert.Equal(1, j.GetProperty("threads").GetInt32());
        Assert.Equal(2, j.GetProperty("batch").GetInt32());
        Assert.Equal(16, j.GetProperty("block").GetInt32());
        Assert.Equal(2, j.GetProperty("steps").GetInt32());
        // Both models take the student's vocabulary (gpt2-tiny: 1024; S's own is 4096).
        Assert.Equal(1024, j.GetProperty("vocab").GetInt32());
        // As train-torch.py's GPT counts them: GPT(1024, 256, 256, 4, 4) has 3,487,232 parameters (S at the student's
        // vocabulary), GPT(1024, 128, 128, 4, 4) 940,800 (gpt2-tiny); the line rounds millions to 4 places.
        Assert.Equal(3.4872, j.GetProperty("teacher_params_m").GetDouble());
        Assert.Equal(0.9408, j.GetProperty("student_params_m").GetDouble());
        double stepMs = j.GetProperty("step_ms").GetDouble();
        Assert.True(stepMs > 0);
        Assert.Equal(32 / (stepMs / 1e3), j.GetProperty("tokens_per_s").GetDouble(), 0.01 * 32 / (stepMs / 1e3));   // B·T = 32 tokens a step
        Assert.True(j.GetProperty("teacher_forward_ms").GetDouble() > 0);
        Assert.True(j.GetProperty("peak_rss_mb").GetDouble() > 0);
    }

    [Theory]
    [InlineData(new[] { "--block", "200" }, "--block 200 exceeds --student-preset gpt2-tiny's context of 128")]
    [InlineData(new[] { "--alpha", "1.5" }, "--alpha 1.5 must be in [0, 1]")]
    [InlineData(new[] { "--temperature", "0" }, "--temperature 0 must be positive")]
    [InlineData(new[] { "--steps", "0" }, "must be positive")]
    [InlineData(new[] { "--teacher-preset", "no-such-preset" }, "'no-such-preset' is neither a preset")]
    [InlineData(new[] { "--teacher-preset", "bert-tiny", "--block", "16" }, "--teacher-preset bert-tiny: config: model_type: 'bert' is not a decoder")]
    public void Bad_arguments_are_one_line_errors(string[] args, string message)
    {
        using var lathe = new LatheProcess();
        var (code, _, stderr) = lathe.Run(["bench", "distill", "--student-preset", "gpt2-tiny", "--batch", "2", .. args]);
        Assert.Equal(2, code);
        Assert.Contains(message, stderr);
        Assert.DoesNotContain("   at ", stderr);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
