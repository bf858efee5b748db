using System.Text.Json;

namespace Lathe.Tests.Cli;

/// <summary>`lathe bench decode --sequences`: a list of counts runs each in one process, a JSON line per count in the
/// order given; a bad count is a one-line error (exit 2).</summary>
public class BenchDecodeCliTests
{
    [Fact]
    public void A_list_of_sequence_counts_prints_a_json_line_each()
    {
        using var lathe = new LatheProcess();
        string stdout = lathe.RunOk("bench", "decode", "--preset", "llama-tiny", "--type", "q8_0", "--threads", "1",
            "--sequences", "1,3", "--prompt-tokens", "8", "--gen-tokens", "4", "--repetitions", "1");
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith('{')).ToArray();
        Assert.Equal(2, lines.Length);
        int[] expected = [1, 3];
        for (int i = 0; i < 2; i++)
        {
            using var json = JsonDocument.Parse(lines[i]);
            Assert.Equal(expected[i], json.RootElement.GetProperty("sequences").GetInt32());
            Assert.True(json.RootElement.GetProperty("tg_tokens_per_s").GetDouble() > 0);
            Assert.True(json.RootElement.GetProperty("pp_tokens_per_s").GetDouble() > 0);
            // Generation bandwidth: the linear weights' bytes per step (Q8_0: 34 bytes per 32 values) times the rate.
            double mb = json.RootElement.GetProperty("weight_mb_per_step").GetDouble();
            Assert.True(mb > 0);
            // The JSON keeps 4 decimals: the tiny model's MB figure (~0.82) carries up to 6e-5 relative rounding.
            double product = mb * 1e6 * json.RootElement.GetProperty("tg_tokens_per_s").GetDouble() / expected[i] / 1e9;
            Assert.InRange(json.RootElement.GetProperty("tg_weight_gb_per_s").GetDouble() / product, 0.999, 1.001);
        }
    }

    [Fact]
    public void Membw_prints_a_positive_read_bandwidth()
    {
        using var lathe = new LatheProcess();
        string stdout = lathe.RunOk("bench", "membw", "--threads", "2", "--mb", "8", "--repetitions", "1");
        using var json = JsonDocument.Parse(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last(l => l.StartsWith('{')));
        Assert.Equal("membw", json.RootElement.GetProperty("bench").GetString());
        Assert.True(json.RootElement.GetProperty("read_gb_per_s").GetDouble() > 0);
        var (code, _, stderr) = lathe.Run("bench", "membw", "--mb", "0");
        Assert.Equal(2, code);
        Assert.Contains("--mb", stderr);
    }

    [Fact]
    public void A_bad_sequence_count_is_a_one_line_error()
    {
        using var lathe = new LatheProcess();
        var (code, _, stderr) = lathe.Run("bench", "decode", "--preset", "llama-tiny", "--sequences", "4,0");
        Assert.Equal(2, code);
        Assert.Contains("--sequences '4,0'", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }
}
