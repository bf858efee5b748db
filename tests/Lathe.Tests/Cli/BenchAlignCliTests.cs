using System.Text.Json;

namespace Lathe.Tests.Cli;

/// <summary>`lathe bench align`: one step of DPO and of reward modelling, and one PPO phase, on a tiny preset ends with the JSON line the
/// comparison script reads (no timing is asserted, only that the figures are there and the token count is the stated
/// one); bad arguments are one-line errors (exit 2).</summary>
public class BenchAlignCliTests
{
    static JsonElement LastJson(string stdout)
    {
        string line = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last();
        using var json = JsonDocument.Parse(line);
        return json.RootElement.Clone();
    }

    static JsonElement RunOne(string method)
    {
        using var lathe = new LatheProcess();
        return LastJson(lathe.RunOk("bench", "align", "--method", method, "--preset", "gpt2-tiny", "--threads", "1",
            "--steps", "1", "--warmup", "0", "--pairs", "2", "--prompt-tokens", "8", "--response-tokens", "8"));
    }

    static void AssertCommonFields(JsonElement j, string method)
    {
        Assert.Equal("align", j.GetProperty("bench").GetString());
        Assert.Equal(method, j.GetProperty("method").GetString());
        Assert.Equal("gpt2-tiny", j.GetProperty("preset").GetString());
        Assert.Equal(1, j.GetProperty("threads").GetInt32());
        Assert.Equal(2, j.GetProperty("batch").GetInt32());
        Assert.Equal(4, j.GetProperty("rows").GetInt32());
        // Every token of every row: 2 pairs × 2 rows × (8 prompt + 8 response).
        Assert.Equal(64, j.GetProperty("tokens_per_step").GetInt32());
        double stepMs = j.GetProperty("step_ms").GetDouble();
        Assert.True(stepMs > 0);
        Assert.Equal(64 / (stepMs / 1e3), j.GetProperty("tokens_per_s").GetDouble(), 0.01 * 64 / (stepMs / 1e3));   // the same step, rounded to 4 places
        Assert.True(j.GetProperty("peak_rss_mb").GetDouble() > 0);
        Assert.True(j.GetProperty("trainable_params").GetInt64() > 0);
        // The first step starts where both losses are ln 2: the policy is its own reference (DPO), the score head is 0 (reward).
        // The JSON line carries 4 decimals, so the check is against ln 2 rounded the same way.
        Assert.Equal(Math.Round(Math.Log(2), 4), j.GetProperty("first_loss").GetDouble());
    }

    [Fact]
    public void Dpo_prints_the_step_and_the_reference_pass_separately()
    {
        var j = RunOne("dpo");
        AssertCommonFields(j, "dpo");
        Assert.True(j.GetProperty("reference_tokens_per_s").GetDouble() > 0);
        Assert.True(j.GetProperty("reference_ms_per_batch").GetDouble() > 0);
    }

    [Fact]
    public void Reward_trains_the_trunk_and_the_score_head()
    {
        var j = RunOne("reward");
        AssertCommonFields(j, "reward");
        Assert.Equal(JsonValueKind.Null, j.GetProperty("reference_tokens_per_s").ValueKind);
        // gpt2-tiny (vocab 1024, 128 positions, C 128, 4 layers, tied head) has 940,800 parameters, as
        // train-torch.py's GPT(1024, 128, 128, 4, 4) counts them; full fine-tuning trains all, and the score head adds C = 128.
        Assert.Equal(940_800 + 128, j.GetProperty("trainable_params").GetInt64());
    }

    [Fact]
    public void Ppo_prints_the_phase_and_the_generation_separately()
    {
        using var lathe = new LatheProcess();
        var j = LastJson(lathe.RunOk("bench", "align", "--method", "ppo", "--preset", "gpt2-tiny", "--threads", "1",
            "--steps", "1", "--warmup", "0", "--rollouts", "2", "--minibatch", "1", "--prompt-tokens", "8", "--response-tokens", "8"));
        Assert.Equal("ppo", j.GetProperty("method").GetString());
        Assert.Equal(2, j.GetProperty("rows").GetInt32());
        // The rollouts' tokens once per phase: 2 × (8 + 8).
        Assert.Equal(32, j.GetProperty("tokens_per_step").GetInt32());
        double stepMs = j.GetProperty("step_ms").GetDouble();
        Assert.Equal(32 / (stepMs / 1e3), j.GetProperty("tokens_per_s").GetDouble(), 0.01 * 32 / (stepMs / 1e3));
        // 4 epochs × 2 minibatches of 1 rollout.
        Assert.Equal(8, j.GetProperty("optimiser_steps_per_phase").GetInt32());
        Assert.True(j.GetProperty("generation_tokens_per_s").GetDouble() > 0);
        // The policy starts as its reference: the first phase's KL is exactly 0.
        Assert.Equal(0.0, j.GetProperty("first_kl").GetDouble());
        Assert.True(j.GetProperty("peak_rss_mb").GetDouble() > 0);
        // The policy's parameters and the value head's weight (C = 128) and bias.
        Assert.Equal(940_800 + 128 + 1, j.GetProperty("trainable_params").GetInt64());
    }

    [Theory]
    [InlineData(new[] { "--method", "ppo", "--rollouts", "2", "--minibatch", "3", "--prompt-tokens", "8", "--response-tokens", "8" }, "--minibatch 3 must be between 1 and the 2 rollouts")]
    [InlineData(new[] { "--method", "kto" }, "--method 'kto'")]
    [InlineData(new[] { "--prompt-tokens", "100", "--response-tokens", "100" }, "exceed preset gpt2-tiny's context of 128")]
    [InlineData(new[] { "--pairs", "0" }, "must be positive")]
    public void Bad_arguments_are_one_line_errors(string[] args, string message)
    {
        using var lathe = new LatheProcess();
        var (code, _, stderr) = lathe.Run(["bench", "align", "--preset", "gpt2-tiny", .. args]);
        Assert.Equal(2, code);
        Assert.Contains(message, stderr);
        Assert.DoesNotContain("   at ", stderr);
    }
}
